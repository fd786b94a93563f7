"""Common base for the zoo's layers: randomness / differentiability declarations and the switches.

Every zoo layer declares two class attributes that `eval/` reads to choose its attack mode:

* ``is_random``: the layer draws fresh randomness on every call (so a robustness number needs EOT
  and mean±std over trials);
* ``is_differentiable``: its gradient is the true gradient of the forward map. Where it is not
  (rounding, SVD truncation), BPDA (Athalye et al. 2018) replaces the backward pass by the identity
  when the layer's ``bpda`` switch is on.

Switches are plain Python attributes read while a function is traced, so one model can be traced
into several SavedModel signatures (noise on, noise off, BPDA) without any runtime branching.
"""
import keras
import tensorflow as tf


class ZooLayer(keras.layers.Layer):
    """Base class: a deterministic, differentiable layer unless a subclass says otherwise."""

    is_random = False
    is_differentiable = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Trace-time switch: identity gradient through a non-differentiable forward (BPDA).
        self.bpda = False

    def compute_output_shape(self, input_shape):
        return input_shape


class StochasticLayer(ZooLayer):
    """A layer that injects noise in training and, unless switched off, at inference.

    ``inference_noise`` (saved in the config) keeps the noise active when ``training`` is false,
    which is how noise defenses are served (PNI Table 2 "test with PNI", RobustNet). Turning it off
    gives the deterministic model ("test without PNI"). Noise in training is always on.
    """

    is_random = True

    def __init__(self, inference_noise=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.inference_noise = bool(inference_noise)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.noise_off = False  # trace-time master switch (training included), see zoo.no_noise

    def noise_active(self, training):
        """Noise is drawn in training, and at inference when ``inference_noise`` is on."""
        return not self.noise_off and (bool(training) or self.inference_noise)

    def get_config(self):
        config = super().get_config()
        config.update(inference_noise=self.inference_noise, seed=self.seed)
        return config


def straight_through(x, y):
    """Forward value ``y``, backward identity to ``x`` (BPDA with g(x) = x, Athalye et al. 2018, sec. 4.1)."""
    return x + tf.stop_gradient(y - x)
