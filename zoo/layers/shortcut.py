"""Parameter-free residual shortcut (He et al. 2016, CIFAR ResNets, "option A")."""
import keras
import tensorflow as tf

from zoo.layers.base import ZooLayer


@keras.saving.register_keras_serializable(package="zoo")
class PadShortcut(ZooLayer):
    """Identity shortcut that subsamples by ``stride`` and zero-pads channels to ``filters`` (option A)."""

    def __init__(self, filters, stride=2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.stride = int(stride)

    def call(self, inputs):
        x = inputs[:, :: self.stride, :: self.stride, :]
        extra = self.filters - int(inputs.shape[-1])
        return tf.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        shrink = lambda d: None if d is None else -(-d // self.stride)  # noqa: E731
        return (n, shrink(h), shrink(w), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, stride=self.stride)
        return config
