"""ParamNet: fixed Gaussian noise on the weights (perturbation study sec. 3.6 and Fig. 5 left).

The study's "pure parameter perturbation (ParamNet)" is "a simplified version of (He et al., 2019)
but without adversarial training": PNI-W with the noise scale fixed instead of trained. Each
forward pass draws w~ = w + sigma * eta, eta ~ N(0, std(w)^2), std over the whole weight tensor and
without gradient (PNI eq. 5-6, ``zoo.layers.pni.pni_perturb``), so the injected noise has standard
deviation sigma * std(w). sigma is a constant of the layer's config, not a variable: nothing about
the noise is trained.

Fig. 5 (left) compares noise "during training and inference" with noise "only during inference
(test)": ``train_noise`` switches the first off. Inference noise follows ``inference_noise`` (and
``zoo.inference_noise``) like every random layer.
"""
import keras
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers.pni import pni_perturb


class _ParamNoiseMixin:
    """The fixed-scale weight noise shared by ParamNoiseConv2D and ParamNoiseDense."""

    is_random = True
    is_differentiable = True

    def _noise_init(self, sigma, train_noise, inference_noise, seed):
        if not sigma >= 0:
            raise ZooError(f"{type(self).__name__} sigma={sigma}: expected a value >= 0 (noise std / std(w))")
        self.sigma = float(sigma)
        self.train_noise = bool(train_noise)
        self.inference_noise = bool(inference_noise)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.bpda = False
        self.noise_off = False

    def noise_active(self, training):
        """Training calls draw noise only if ``train_noise``; inference calls only if ``inference_noise``."""
        if self.noise_off or self.sigma == 0.0:
            return False
        return self.train_noise if training else self.inference_noise

    def noisy_kernel(self, training):
        """w + sigma * std(w) * N(0, 1) when the noise is active, else w (Study sec. 3.6)."""
        if not self.noise_active(training):
            return self.kernel
        unit = keras.random.normal(tf.shape(self.kernel), dtype=self.kernel.dtype, seed=self.seed_generator)
        return pni_perturb(self.kernel, tf.constant(self.sigma, self.kernel.dtype), unit)

    def _noise_config(self):
        return dict(sigma=self.sigma, train_noise=self.train_noise, inference_noise=self.inference_noise,
                    seed=self.seed)

    def call(self, inputs, training=None):  # _PNIMixin.call's shape with only a fixed-scale kernel noise (see its doc)
        outputs = self.linear(inputs, tf.cast(self.noisy_kernel(training), inputs.dtype))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, tf.cast(self.bias, outputs.dtype))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(self._noise_config())
        return config


@keras.saving.register_keras_serializable(package="zoo")
class ParamNoiseConv2D(_ParamNoiseMixin, keras.layers.Conv2D):
    """Conv2D whose kernel gets fixed-scale Gaussian noise sigma * std(w) on every call (ParamNet)."""

    def __init__(self, filters, kernel_size, sigma=0.25, train_noise=True, inference_noise=True, seed=None,
                 **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._noise_init(sigma, train_noise, inference_noise, seed)

    def linear(self, inputs, kernel):
        return self.convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package="zoo")
class ParamNoiseDense(_ParamNoiseMixin, keras.layers.Dense):
    """Dense whose kernel gets fixed-scale Gaussian noise sigma * std(w) on every call (ParamNet)."""

    def __init__(self, units, sigma=0.25, train_noise=True, inference_noise=True, seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self._noise_init(sigma, train_noise, inference_noise, seed)

    def linear(self, inputs, kernel):
        return tf.matmul(inputs, kernel)
