import json
import os
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers import GaussianNoise, GaussianNoiseLayer, LaplaceNoise, UniformNoise

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

N = 200_000


@pytest.mark.parametrize("layer, std", [
    (GaussianNoiseLayer(0.1, seed=1), 0.1),
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
    layer = GaussianNoiseLayer(0.2, inference_noise=False, seed=3)
    x = tf.random.uniform([64, 8])
    np.testing.assert_array_equal(layer(x, training=False), x)
    assert np.abs(layer(x, training=True) - x).max() > 0.1
    layer.inference_noise = True
    a, b = layer(x), layer(x)
    assert np.abs(a - b).max() > 0.1  # fresh noise on every call


def test_negative_scale_is_rejected_with_the_value():
    with pytest.raises(ZooError, match="stddev=-0.1"):
        GaussianNoiseLayer(-0.1)


def test_old_name_is_an_alias_and_keras_own_layer_is_another():
    assert GaussianNoise is GaussianNoiseLayer and GaussianNoiseLayer is not keras.layers.GaussianNoise
    assert keras.saving.get_registered_name(GaussianNoiseLayer) == "zoo>GaussianNoiseLayer"


def test_keras_files_saved_under_the_old_name_still_load(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, GaussianNoiseLayer(0.3, inference_noise=False, name="noise")(inputs))
    path = tmp_path / "new.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    config = json.loads(parts["config.json"])
    noise = [c for c in config["config"]["layers"] if c["config"]["name"] == "noise"][0]
    assert (noise["class_name"], noise["registered_name"]) == ("GaussianNoiseLayer", "zoo>GaussianNoiseLayer")
    noise["class_name"], noise["registered_name"] = "GaussianNoise", "zoo>GaussianNoise"  # as saved before issue 14
    parts["config.json"] = json.dumps(config).encode()
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(old, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    layer = keras.models.load_model(old).get_layer("noise")
    assert type(layer) is GaussianNoiseLayer and layer.stddev == pytest.approx(0.3) and not layer.inference_noise
    x = tf.zeros([2000, 4])
    assert float(tf.math.reduce_std(layer(x, training=True))) == pytest.approx(0.3, rel=0.05)


def test_the_shipped_robustnet_model_names_the_old_class_and_its_layers_load():
    path = os.path.join(ROOT, "exported_models", "robustnet_resnet20", "1", "assets.extra", "model.keras")
    if not os.path.isfile(path):
        pytest.skip("robustnet_resnet20 is not shipped in this checkout")
    with zipfile.ZipFile(path) as z:
        layers = json.loads(z.read("config.json"))["config"]["layers"]
    old = [c for c in layers if c.get("registered_name") == "zoo>GaussianNoise"]
    assert len(old) == 19  # one before every conv of ResNet-20, saved before the rename
    layer = keras.saving.deserialize_keras_object(old[0])
    assert type(layer) is GaussianNoiseLayer and layer.stddev == pytest.approx(old[0]["config"]["stddev"])
