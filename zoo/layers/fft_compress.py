"""FFT-based compression channel (perturbation study Appendix C.1, "FC").

x' = F^-1(F[w] * M_f[w]) with M_f the indicator of the lowest frequencies. Here frequencies of each
channel's 2-D spectrum are ranked by their radius sqrt(u^2 + v^2) (u, v in cycles per pixel,
numpy.fft.fftfreq) and kept lowest first, a frequency always together with its mirror -w, so the mask
is conjugate-symmetric and the filtered image is real. The number kept is the achievable count
nearest to fraction * H * W (within one coefficient), and never less than the DC coefficient, so a
small feature map (1x1, 2x2 deep in a network) is not zeroed out. The study's "30% compression" is
fraction 0.7.
The map is linear, so its gradient is exact and the layer is differentiable.
"""
import keras
import numpy as np
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers.base import ZooLayer


def low_frequency_mask(height, width, fraction):
    """M_f of Appendix C.1 as a conjugate-symmetric {0,1} array [H, W] keeping ~fraction*H*W coefficients."""
    u = np.fft.fftfreq(height)[:, None]
    v = np.fft.fftfreq(width)[None, :]
    radius = np.sqrt(u ** 2 + v ** 2).ravel()
    rows, cols = np.divmod(np.arange(height * width), width)
    mirror = ((-rows) % height) * width + (-cols) % width
    pair = np.minimum(np.arange(height * width), mirror)
    target = fraction * height * width
    mask = np.zeros(height * width, dtype=np.float32)
    kept = 0
    for i in np.lexsort((pair, radius)):  # by radius, mirror pairs adjacent
        if mask[i]:
            continue
        size = 1 if mirror[i] == i else 2
        if kept and kept + size > target and abs(kept + size - target) >= abs(kept - target):
            break
        mask[i] = mask[mirror[i]] = 1.0
        kept += size
    return mask.reshape(height, width)


@keras.saving.register_keras_serializable(package="zoo")
class FFTCompress(ZooLayer):
    """Keep the lowest ``fraction`` of each channel's 2-D FFT coefficients (band-limiting, App. C.1)."""

    def __init__(self, fraction=0.5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < fraction <= 1.0:
            raise ZooError(f"FFTCompress fraction={fraction}: expected a value in (0, 1]")
        self.fraction = float(fraction)

    def build(self, input_shape):
        self.mask = low_frequency_mask(int(input_shape[1]), int(input_shape[2]), self.fraction)

    def call(self, inputs):
        if self.fraction == 1.0:
            return inputs
        channels_first = tf.transpose(tf.cast(inputs, tf.float32), [0, 3, 1, 2])
        spectrum = tf.signal.fft2d(tf.complex(channels_first, tf.zeros_like(channels_first)))
        filtered = tf.math.real(tf.signal.ifft2d(spectrum * tf.cast(self.mask, tf.complex64)))
        return tf.cast(tf.transpose(filtered, [0, 2, 3, 1]), inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(fraction=self.fraction)
        return config
