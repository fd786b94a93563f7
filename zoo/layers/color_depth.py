"""Colour-depth reduction channel (perturbation study Appendix C/D.1, "CD"; feature squeezing)."""
import keras
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers.base import ZooLayer, straight_through


@keras.saving.register_keras_serializable(package="zoo")
class ColorDepth(ZooLayer):
    """Quantise each channel of an image in [0,1] to ``bits`` bits: round(x * (2^b - 1)) / (2^b - 1).

    The output has at most 2^b levels per channel. Rounding has no useful gradient, so the layer is
    declared non-differentiable; with ``bpda`` on, the backward pass is the identity.
    """

    is_differentiable = False

    def __init__(self, bits=4, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= int(bits) <= 16 or int(bits) != bits:
            raise ZooError(f"ColorDepth bits={bits}: expected an integer in 1..16")
        self.bits = int(bits)

    def call(self, inputs):
        levels = float(2 ** self.bits - 1)
        quantised = tf.round(tf.clip_by_value(inputs, 0.0, 1.0) * levels) / levels
        return straight_through(inputs, quantised) if self.bpda else quantised

    def get_config(self):
        config = super().get_config()
        config.update(bits=self.bits)
        return config
