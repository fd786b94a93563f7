"""Band-limited convolutions (perturbation study App. E.1.1; Dziedzic et al. 2019): ``fft_layers``/``fft_fraction``.

The input of every chosen conv has no spectrum outside the kept low-frequency band M_f, in training
and inference; the other convs see the full spectrum.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.errors import ZooError
from zoo.layers import FFTCompress, low_frequency_mask


def conv_input(model, conv_name, x, training):
    """What the named conv receives (for a placed conv: the FFTCompress output)."""
    probe = keras.Model(model.inputs, model.get_layer(conv_name).input)
    return probe(x, training=training).numpy()


def outside_band(features, fraction):
    """(largest |coefficient| outside M_f, largest |coefficient| overall) of each channel's 2-D FFT."""
    spectrum = np.abs(np.fft.fft2(np.transpose(features, (0, 3, 1, 2))))  # [N, C, H, W]
    mask = low_frequency_mask(features.shape[1], features.shape[2], fraction)
    return spectrum[..., mask == 0].max(), spectrum.max()


@pytest.mark.parametrize("training", [True, False])
def test_placed_convs_see_only_the_kept_band(training):
    fraction = 0.3
    keras.utils.set_random_seed(0)
    model = zoo.create("resnet20", input_shape=(16, 16, 3), width=0.25, fft_layers="input,3,7",
                       fft_fraction=fraction)
    ffts = [layer for layer in model._flatten_layers() if isinstance(layer, FFTCompress)]
    convs = [layer.name for layer in model._flatten_layers() if isinstance(layer, keras.layers.Conv2D)]
    placed = [convs[i] for i in (0, 3, 7)]
    assert [f.name for f in ffts] == [f"{name}_fft" for name in placed]
    x = tf.random.stateless_uniform([4, 16, 16, 3], seed=[1, 2])
    for name in placed:
        leak, peak = outside_band(conv_input(model, name, x, training), fraction)
        assert peak > 1.0 and leak < 1e-4 * peak, (name, leak, peak)
    # not placed: the full spectrum arrives; how much lies outside the band depends on the random weights
    # (3 % to 30 % seen), so the bound is 1 %, a hundred times the placed convs' 1e-4
    for name in (convs[1], convs[4]):
        leak, peak = outside_band(conv_input(model, name, x, training), fraction)
        assert leak > 1e-2 * peak, (name, leak, peak)


def test_all_places_one_before_every_conv_and_keeps_the_requested_fraction():
    model = zoo.create("vgg11", input_shape=(16, 16, 3), width=0.125, fft_layers="all", fft_fraction=0.5)
    ffts = [layer for layer in model._flatten_layers() if isinstance(layer, FFTCompress)]
    assert len(ffts) == sum(isinstance(l, keras.layers.Conv2D) for l in model._flatten_layers()) == 8
    for layer in ffts:
        h, w = layer.mask.shape
        assert abs(layer.mask.sum() - 0.5 * h * w) <= 1 or (h * w == 1 and layer.mask.sum() == 1)
    assert zoo.randomness(model) == {"is_random": False, "is_differentiable": True, "random_layers": [],
                                     "nondifferentiable_layers": []}


def test_tiny_feature_maps_keep_the_dc_coefficient():
    """A 1x1 map at 85 % compression keeps its only coefficient instead of being zeroed."""
    assert low_frequency_mask(1, 1, 0.15).tolist() == [[1.0]]
    assert low_frequency_mask(2, 2, 0.15).sum() == 1


def test_band_limited_model_round_trips_through_a_keras_file(tmp_path):
    model = zoo.create("resnet20", input_shape=(8, 8, 3), width=0.25, fft_layers="all", fft_fraction=0.4)
    x = tf.random.stateless_uniform([2, 8, 8, 3], seed=[3, 4])
    model.save(tmp_path / "bl.keras")
    loaded = keras.models.load_model(tmp_path / "bl.keras")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)


@pytest.mark.parametrize("options, message", [
    (dict(fft_layers="first"), "fft_layers='first': expected 'input', 'all' or comma-separated conv indices"),
    (dict(fft_layers="0,25"), "fft_layers='0,25': expected conv indices < 19, the number of convs in this model"),
    (dict(fft_layers="all", fft_fraction=0.0), "fft_fraction=0.0: expected the kept fraction of the spectrum"),
])
def test_bad_band_limit_requests_give_one_line_errors(options, message):
    with pytest.raises(ZooError) as err:
        zoo.create("resnet20", input_shape=(8, 8, 3), width=0.25, **options)
    assert message in str(err.value) and "\n" not in str(err.value)
