import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers import GaussianNoise, LaplaceNoise, UniformNoise

N = 200_000


@pytest.mark.parametrize("layer, std", [
    (GaussianNoise(0.1, seed=1), 0.1),
    (UniformNoise(0.05, seed=1), 0.05 / np.sqrt(3.0)),      # U(-e, e) has std e / sqrt(3)
    (LaplaceNoise(0.04, seed=1), 0.04 * np.sqrt(2.0)),      # Laplace(0, b) has std b * sqrt(2)
])
def test_noise_has_the_distribution_scale_in_training_and_inference(layer, std):
    x = tf.fill([N], 0.5)
    for training in (True, False):
        noise = (layer(x, training=training) - x).numpy()
        assert abs(noise.mean()) < 5 * std / np.sqrt(N)
        assert noise.std() == pytest.approx(std, rel=0.02)


def test_uniform_noise_is_bounded_and_laplace_has_heavier_tails():
    x = tf.zeros([N])
    u = UniformNoise(0.05, seed=2)(x).numpy()
    assert np.abs(u).max() <= 0.05
    lap = LaplaceNoise(0.05, seed=2)(x).numpy()
    kurtosis = ((lap - lap.mean()) ** 4).mean() / lap.var() ** 2
    assert kurtosis == pytest.approx(6.0, rel=0.1)  # Laplace kurtosis is 6 (Gaussian 3)


def test_inference_switch_turns_noise_off_only_at_inference():
    layer = GaussianNoise(0.2, inference_noise=False, seed=3)
    x = tf.random.uniform([64, 8])
    np.testing.assert_array_equal(layer(x, training=False), x)
    assert np.abs(layer(x, training=True) - x).max() > 0.1
    layer.inference_noise = True
    a, b = layer(x), layer(x)
    assert np.abs(a - b).max() > 0.1  # fresh noise on every call


def test_negative_scale_is_rejected_with_the_value():
    with pytest.raises(ZooError, match="stddev=-0.1"):
        GaussianNoise(-0.1)
