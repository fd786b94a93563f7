"""Batch normalisation in one fused TensorFlow op (``FusedBatchNormV3``), as Keras 2 did by default.

Keras 3's ``BatchNormalization`` computes batch norm from elementwise ops (moments: mean, squared
difference, mean; then multiply and add), each a pass over the activation tensor, and as many again in
the gradient. On CPU the fused op (oneDNN's ``_MklFusedBatchNormV3`` where oneDNN is on) does it in one
pass forward and one backward. The PNI-W + PGD-7 step runs 9 forward and 9 backward passes per batch,
so this matters: docs/PERFORMANCE.md quotes the profile before and after.

Same variables, same arithmetic up to float round-off, same training semantics as the Keras layer it
subclasses (tests/zoo/test_batch_norm.py checks outputs, gradients and moving statistics against it).
The moving variance is updated with the biased batch variance, as Keras 3 does (the fused op returns
the Bessel-corrected one; it is scaled back). Inputs the fused op does not take (rank other than 4,
channels not last, masks, renorm, synchronized BN, or a non-TensorFlow backend) use Keras' own path.
"""
import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="zoo")
class FusedBatchNorm(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` computed by TensorFlow's fused batch-norm kernel (NHWC)."""

    def _fused(self, inputs, mask):
        return (keras.backend.backend() == "tensorflow" and mask is None and len(inputs.shape) == 4
                and self.axis in (-1, 3) and self.scale and self.center and not self.renorm
                and not self.synchronized)

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)
        gamma, beta = tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32)
        if training and self.trainable:
            y, mean, unbiased, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=tf.constant([], tf.float32),
                variance=tf.constant([], tf.float32), epsilon=self.epsilon, data_format="NHWC", is_training=True)
            n = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
            variance = unbiased * (n - 1.0) / tf.maximum(n, 1.0)  # Keras 3 keeps the biased variance
            m = self.momentum
            self.moving_mean.assign(tf.cast(self.moving_mean, tf.float32) * m + mean * (1.0 - m))
            self.moving_variance.assign(tf.cast(self.moving_variance, tf.float32) * m + variance * (1.0 - m))
        else:
            y = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32), epsilon=self.epsilon, data_format="NHWC",
                is_training=False)[0]
        return tf.cast(y, self.compute_dtype)
