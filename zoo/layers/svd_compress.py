"""SVD-based compression channel (perturbation study Appendix C.2, "SVD")."""
import keras
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers.base import ZooLayer, straight_through


@keras.saving.register_keras_serializable(package="zoo")
class SVDCompress(ZooLayer):
    """Reconstruct each channel of each image from its top-``rank`` singular values (App. C.2).

    The output of each [H, W] channel has rank <= ``rank``. The SVD's gradient is unstable where
    singular values repeat, so the layer is declared non-differentiable: attacks use BPDA
    (identity backward, enabled with the ``bpda`` switch).
    """

    is_differentiable = False

    def __init__(self, rank=16, **kwargs):
        super().__init__(**kwargs)
        if int(rank) != rank or rank < 1:
            raise ZooError(f"SVDCompress rank={rank}: expected an integer >= 1")
        self.rank = int(rank)

    def call(self, inputs):
        k = min(self.rank, int(inputs.shape[1]), int(inputs.shape[2]))
        channels_first = tf.transpose(tf.cast(inputs, tf.float32), [0, 3, 1, 2])
        s, u, v = tf.linalg.svd(channels_first)
        low_rank = tf.matmul(u[..., :k] * s[..., None, :k], v[..., :k], adjoint_b=True)
        out = tf.cast(tf.transpose(low_rank, [0, 2, 3, 1]), inputs.dtype)
        return straight_through(inputs, out) if self.bpda else out

    def get_config(self):
        config = super().get_config()
        config.update(rank=self.rank)
        return config
