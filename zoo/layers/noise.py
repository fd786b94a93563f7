"""Fixed-scale additive noise layers, active in training and inference.

``GaussianNoiseLayer`` is RobustNet's noise layer (Liu et al. 2018; perturbation study section 3.7: a noise
layer before every convolution, sigma_init before the first and sigma_inner before the rest). The
three layers are also the perturbation study's noisy input channels (Gauss, Uniform, Laplace;
Appendix D.1, Fig. 1). Unlike ``keras.layers.GaussianNoise`` (training only) they stay on at inference
unless ``inference_noise=False``; hence the name ``GaussianNoiseLayer``, not Keras' ``GaussianNoise``.
"""
import keras
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers.base import StochasticLayer


class _AdditiveNoise(StochasticLayer):
    """x + n with n drawn i.i.d. per element from a zero-mean distribution of fixed scale."""

    scale_name = "stddev"

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        if scale < 0:
            raise ZooError(f"{type(self).__name__} {self.scale_name}={scale}: expected a value >= 0")
        self.scale = float(scale)

    def call(self, inputs, training=None):
        if not self.noise_active(training) or self.scale == 0.0:
            return inputs
        return inputs + self.sample(tf.shape(inputs), inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config[self.scale_name] = self.scale
        return config


# The three distributions below differ only in ``sample`` and the name of their scale; each is its own
# registered class because a saved model names the layer it holds (and Keras registers classes, not instances).
@keras.saving.register_keras_serializable(package="zoo")
class GaussianNoiseLayer(_AdditiveNoise):
    """x + N(0, stddev^2): RobustNet noise layer and the study's Gaussian input channel."""

    scale_name = "stddev"

    def __init__(self, stddev=0.1, **kwargs):
        super().__init__(stddev, **kwargs)

    def sample(self, shape, dtype):
        return keras.random.normal(shape, stddev=self.scale, dtype=dtype, seed=self.seed_generator)

    @property
    def stddev(self):
        return self.scale


GaussianNoise = GaussianNoiseLayer  # the class's name until issue 14; zoo.layers keeps it importable
# .keras files saved before the rename name the class "zoo>GaussianNoise": that name loads the same class
# (a lookup entry only: new saves keep the registered name "zoo>GaussianNoiseLayer")
keras.saving.get_custom_objects()["zoo>GaussianNoise"] = GaussianNoiseLayer


@keras.saving.register_keras_serializable(package="zoo")
class UniformNoise(_AdditiveNoise):
    """x + U(-epsilon, epsilon): the study's uniform-noise channel (Appendix D.1)."""

    scale_name = "epsilon"

    def __init__(self, epsilon=0.03, **kwargs):
        super().__init__(epsilon, **kwargs)

    def sample(self, shape, dtype):
        return keras.random.uniform(shape, -self.scale, self.scale, dtype=dtype, seed=self.seed_generator)


@keras.saving.register_keras_serializable(package="zoo")
class LaplaceNoise(_AdditiveNoise):
    """x + Laplace(0, b): the study's Laplace channel, also the partially adaptive attacker's surrogate (sec. 3.4).

    Sampled by inverse CDF: n = -b * sign(u) * log(1 - 2|u|), u ~ U(-1/2, 1/2).
    """

    scale_name = "scale"

    def __init__(self, scale=0.03, **kwargs):
        super().__init__(scale, **kwargs)

    def sample(self, shape, dtype):
        tiny = 1e-7
        u = keras.random.uniform(shape, -0.5 + tiny, 0.5 - tiny, dtype=dtype, seed=self.seed_generator)
        return -self.scale * tf.sign(u) * tf.math.log1p(-2.0 * tf.abs(u))
