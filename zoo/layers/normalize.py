"""Non-trainable input normalisation as the model's first layer.

PNI section 4.1: "rather than including the input normalization within the data augmentation, we
place a non-trainable data normalization layer in front of the DNN", so every model takes images in
[0,1] and an attacker's epsilon means the same thing for every model.
"""
import keras
import numpy as np
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers.base import ZooLayer


@keras.saving.register_keras_serializable(package="zoo")
class Normalize(ZooLayer):
    """(x - mean) / std per channel, with constants (no weights, nothing to train or decay)."""

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in np.atleast_1d(mean)]
        self.std = [float(s) for s in np.atleast_1d(std)]
        if len(self.mean) != len(self.std):
            raise ZooError(f"Normalize mean has {len(self.mean)} channels but std has {len(self.std)}")
        if min(self.std) <= 0:
            raise ZooError(f"Normalize std={self.std}: expected every value > 0")

    def build(self, input_shape):
        channels = input_shape[-1]
        if len(self.mean) not in (1, channels):
            raise ZooError(f"Normalize has {len(self.mean)} channel statistics for an input with {channels} channels")

    def call(self, inputs):
        mean = tf.constant(self.mean, dtype=inputs.dtype)
        std = tf.constant(self.std, dtype=inputs.dtype)
        return (inputs - mean) / std

    def get_config(self):
        config = super().get_config()
        config.update(mean=self.mean, std=self.std)
        return config
