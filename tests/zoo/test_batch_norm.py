"""FusedBatchNorm computes what keras.layers.BatchNormalization computes: outputs, gradients, moving statistics."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers.batch_norm import FusedBatchNorm


def _pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    layers = [cls(momentum=0.9, epsilon=1e-5) for cls in (keras.layers.BatchNormalization, FusedBatchNorm)]
    values = [rng.uniform(0.5, 1.5, shape[-1]), rng.normal(size=shape[-1]), rng.normal(size=shape[-1]),
              rng.uniform(0.5, 2.0, shape[-1])]  # gamma, beta, moving mean, moving variance
    for layer in layers:
        layer.build(shape)
        layer.set_weights([v.astype("float32") for v in values])
    x = tf.constant((rng.normal(size=shape) * 3 + 1).astype("float32"))
    return layers, x


@pytest.mark.parametrize("training", [False, True])
def test_outputs_gradients_and_moving_statistics_match_keras(training):
    (reference, fused), x = _pair((16, 6, 5, 4))

    @tf.function
    def run(layer, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=training)
            loss = tf.reduce_sum(y * tf.sin(y))
        return y, tape.gradient(loss, [x, layer.gamma, layer.beta])

    y_ref, g_ref = run(reference, x)
    y, g = run(fused, x)
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), rtol=1e-4, atol=1e-4)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-3)
    for a, b in zip(fused.non_trainable_weights, reference.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)  # biased variance, as Keras 3
    if training:  # the statistics did move
        assert not np.allclose(fused.moving_mean.numpy(), _pair((16, 6, 5, 4))[0][1].moving_mean.numpy())


def test_other_ranks_use_keras_path_and_config_round_trips():
    (reference, fused), _ = _pair((8, 3))
    x = tf.random.normal((8, 3))
    np.testing.assert_allclose(fused(x, training=True).numpy(), reference(x, training=True).numpy(), atol=1e-5)
    clone = FusedBatchNorm.from_config(fused.get_config())
    assert isinstance(clone, keras.layers.BatchNormalization) and clone.momentum == 0.9 and clone.epsilon == 1e-5
    assert keras.saving.get_registered_name(FusedBatchNorm) == "zoo>FusedBatchNorm"
