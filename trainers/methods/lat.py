"""LAT, layer-wise adversarial training (Sankaranarayanan et al. 2018; an ANP baseline).

Hidden-layer noise computed from the previous mini-batch's gradients: after each step the gradient
of the loss w.r.t. each registered pre-activation (the same NoiseRegister as ANP, top ``anp_layers``
layers) is stored, averaged over the batch; the next mini-batch adds r = lat_eps * sign(g_prev)
(eps 0.1) at those layers. Deviation: the batch-mean gradient is stored so that batches of any size
can reuse it (LAT uses the previous batch's per-example gradients).
"""
import keras
import tensorflow as tf

from trainers.base import Trainer, register
from zoo.layers import registers


@register("lat")
class LATTrainer(Trainer):

    adversarial = True

    @classmethod
    def model_options(cls, config):
        return {**super().model_options(config), "anp_layers": max(config.variant.anp_layers, 1)}

    def __init__(self, net, config, **kwargs):
        super().__init__(net, config, **kwargs)
        self.registers = registers(net)
        self.previous = [self.add_weight(name=f"lat_grad_{r.name}", shape=(1, *r.output.shape[1:]),
                                         initializer="zeros", trainable=False, aggregation="mean")
                         for r in self.registers]

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = tf.shape(x)[0]
        noise = [tf.broadcast_to(self.config.lat_eps * tf.sign(g), tf.concat([[batch], tf.shape(g)[1:]], 0))
                 for g in self.previous]
        clean_logits = tf.stop_gradient(self.net(x, training=False))
        loss, logits, grads = self.register_step(x, y, self.registers, noise)
        for store, g in zip(self.previous, grads):
            store.assign(tf.reduce_mean(tf.cast(g, tf.float32), axis=0, keepdims=True))
        return self.update_metrics(loss, y, clean_logits, logits)
