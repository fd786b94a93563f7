"""ANP, Adversarial Noise Propagation (Liu et al., "Training Robust Deep Neural Networks via ANP").

Algorithm 1, per mini-batch: registers r_m start at 0; for t = 1..k:
  forward with z_m += r_m at the registered layers (line 8) -> loss;
  backward: update theta by back-propagation (line 3) and, from the same backward pass,
  g_m = dL/dz_m (line 4); r_m <- (1 - eta) * r_m + (eps / k) * g_m / ||g_m||_2 (line 5, eq. 2).
So theta is updated k times per mini-batch. Registers sit on the first ``anp_layers`` (top-m)
hidden layers, after conv + BN and before the activation. ||g_m||_2 is the L2 norm of each
example's gradient (each example has its own register).

Schedule (sec. "Experimental Setup", CIFAR-10): ``anp_clean_epochs`` clean epochs (40), then the
phases of ``anp_phases`` (eta 1.0, eps 1.0, k 3 for 50 epochs; eta 0.3, eps 0.3, k 5 for 50 epochs).
"""
import keras
import tensorflow as tf

from trainers.base import Trainer, register
from zoo.layers import registers


def anp_update(r, g, eta, eps, k):
    """ANP eq. (2): (1 - eta) * r + (eps / k) * g / ||g||_2, the norm taken per example."""
    g = tf.cast(g, tf.float32)
    axes = list(range(1, len(g.shape)))
    norm = tf.sqrt(tf.reduce_sum(tf.square(g), axis=axes, keepdims=True))
    return (1.0 - eta) * r + (eps / k) * g / tf.maximum(norm, 1e-12)


def anp_phase(config, epoch):
    """The (eta, eps, k) in force at ``epoch``, or None during the clean epochs."""
    if epoch < config.anp_clean_epochs:
        return None
    start = config.anp_clean_epochs
    for phase in config.anp_phases:
        if epoch < start + phase.epochs:
            return phase
        start += phase.epochs
    return config.anp_phases[-1] if config.anp_phases else None


@register("anp")
class ANPTrainer(Trainer):

    adversarial = True

    def __init__(self, net, config, **kwargs):
        self.registers = registers(net)
        super().__init__(net, config, **kwargs)
        self.noise_norms = [keras.metrics.Mean(name=f"noise_norm/{r.name}") for r in self.registers]

    @property
    def metrics(self):
        return super().metrics + list(getattr(self, "noise_norms", []))

    def phase_for_epoch(self, epoch):
        return anp_phase(self.config, epoch)

    def inner_steps(self, x, y):
        """Run Algorithm 1 on one mini-batch; returns (losses, logits, registers used) per step."""
        phase = self.phase
        batch = tf.shape(x)[0]
        r = [tf.zeros(tf.concat([[batch], reg.output.shape[1:]], 0)) for reg in self.registers]
        history = []
        for _ in range(phase.k):
            loss, logits, g = self.register_step(x, y, self.registers, r)
            history.append((loss, logits, r))
            r = [anp_update(r_m, g_m, phase.eta, phase.eps, phase.k) for r_m, g_m in zip(r, g)]
        return history, r

    def train_step(self, data):
        if self.phase is None:
            return super().train_step(data)
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        history, final = self.inner_steps(x, y)
        for metric, r_m in zip(self.noise_norms, final):
            metric.update_state(tf.reduce_mean(tf.sqrt(tf.reduce_sum(
                tf.square(tf.reshape(r_m, [tf.shape(r_m)[0], -1])), axis=1))))
        clean_logits = history[0][1]  # step 1 runs with r = 0: the clean forward pass
        return self.update_metrics(history[-1][0], y, clean_logits, history[-1][1])
