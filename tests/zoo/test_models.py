import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.errors import ZooError
from zoo.layers import (ColorDepth, FFTCompress, GaussianNoiseLayer, LaplaceNoise, NoiseRegister, Normalize,
                        PadShortcut, ParamNoiseConv2D, ParamNoiseDense, PNIConv2D, PNIDense, SVDCompress,
                        UniformNoise)

# PNI Table 3 "capacity" column and Table 4 (ResNet-18): trainable parameters without the alphas.
PAPER_CAPACITY = [
    ("resnet20", 1, 269_722), ("resnet32", 1, 464_154), ("resnet44", 1, 658_586), ("resnet56", 1, 853_018),
    ("resnet20", 1.5, 605_026), ("resnet20", 2, 1_073_962), ("resnet20", 4, 4_286_026),
    ("resnet18", 1, 11_173_962),
]


@pytest.mark.parametrize("name, width, capacity", PAPER_CAPACITY)
def test_parameter_counts_equal_pni_tables_3_and_4(name, width, capacity):
    assert zoo.count_params(zoo.create(name, num_classes=10, input_shape=(32, 32, 3), width=width)) == capacity
    pni = zoo.create(name, num_classes=10, input_shape=(32, 32, 3), width=width, pni="W")
    assert zoo.count_params(pni) == capacity
    convs_and_fc = sum(isinstance(l, (PNIConv2D, PNIDense)) for l in pni._flatten_layers())
    assert zoo.count_params(pni, include_alpha=True) == capacity + convs_and_fc  # one layerwise alpha each


def test_pni_w_resnet20_has_the_20_alphas_of_pni_table_1():
    model = zoo.create("resnet20", pni="W")
    alphas = [v for v in model.trainable_weights if "alpha" in v.path]
    assert len(alphas) == 20 and all(float(a.numpy()) == 0.25 for a in alphas)


def test_other_architectures_have_their_reference_sizes():
    assert zoo.count_params(zoo.create("vgg16")) == 14_728_266           # CIFAR VGG-16-BN
    assert zoo.count_params(zoo.create("alexnet", num_classes=1000, input_shape=(224, 224, 3))) == 61_100_840
    assert zoo.count_params(zoo.create("lenet5", input_shape=(32, 32, 1))) == 61_706  # LeCun et al. 1998
    assert set(zoo.list_models()) >= {"resnet20", "resnet32", "resnet44", "resnet56", "resnet18", "vgg11",
                                      "vgg13", "vgg16", "vgg19", "alexnet", "alexnet_cifar", "lenet5"}


VARIANTS = [
    {}, {"pni": "W"}, {"pni": "A-a"}, {"pni": "A-b"}, {"pni": "I"}, {"pni": "W+A-a"}, {"pni": "W+A-b"},
    {"robustnet": True}, {"anp_layers": 2}, {"channel": "fft_compress:fraction=0.5"},
    {"pni": "W", "pni_granularity": "channelwise", "channel": "color_depth:bits=5"},
    {"paramnet": 0.2}, {"paramnet": 0.2, "paramnet_train_noise": False}, {"fft_layers": "all", "fft_fraction": 0.5},
    {"hidden_noise": 0.1}, {"fft_layers": "input", "robustnet": True, "anp_layers": 1, "hidden_noise": 0.05},
]
RANDOM_VARIANT_KEYS = ("pni", "robustnet", "paramnet", "hidden_noise")


@pytest.mark.parametrize("name", ["resnet20", "resnet18", "vgg11", "alexnet_cifar", "lenet5"])
def test_every_architecture_builds_every_variant(name):
    x = tf.random.stateless_uniform([2, 16, 16, 3], seed=[0, 1])
    for variant in VARIANTS:
        model = zoo.create(name, num_classes=7, input_shape=(16, 16, 3), width=0.125, **variant)
        logits = model(x, training=False)
        assert logits.shape == (2, 7) and np.isfinite(logits.numpy()).all()
        assert zoo.randomness(model)["is_random"] == any(variant.get(k) for k in RANDOM_VARIANT_KEYS)


def test_variant_layers_are_where_the_papers_put_them():
    rn = zoo.create("resnet20", width=0.25, robustnet=True, sigma_init=0.2, sigma_inner=0.1)
    noise = [l for l in rn._flatten_layers() if isinstance(l, GaussianNoiseLayer)]
    convs = [l for l in rn._flatten_layers() if isinstance(l, keras.layers.Conv2D)]
    assert len(noise) == len(convs) == 19  # one before every conv
    assert noise[0].stddev == 0.2 and {n.stddev for n in noise[1:]} == {0.1}
    pni_i = zoo.create("resnet20", width=0.25, pni="I")
    placed = [(l.name, l.pni) for l in pni_i._flatten_layers() if isinstance(l, (PNIConv2D, PNIDense))]
    assert placed == [("conv0", ("a_in",))]  # PNI-I: noise on the input of the first layer only
    first = zoo.create("resnet20", width=0.25, channel="svd_compress:rank=4").layers[1]
    assert isinstance(first, SVDCompress) and first.rank == 4


def test_hidden_noise_sits_on_every_pre_activation():
    """ANP's z_m: after conv + BN (and after the ANP register, if any), before the ReLU / residual add."""
    model = zoo.create("resnet20", width=0.25, hidden_noise=0.1, anp_layers=2)
    noise = [l for l in model._flatten_layers() if isinstance(l, GaussianNoiseLayer)]
    assert len(noise) == 19 and {n.stddev for n in noise} == {0.1}  # one per conv of ResNet-20 (all hidden)
    sources = [n.input._keras_history[0] for n in noise]
    assert [type(s).__name__ for s in sources[:2]] == ["NoiseRegister", "NoiseRegister"]
    assert {type(s).__name__ for s in sources[2:]} == {"FusedBatchNorm"}


def _roundtrip(model, tmp_path, x):
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    with zoo.inference_noise(model, False), zoo.inference_noise(loaded, False):
        np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-5)
    return loaded


@pytest.mark.parametrize("layer", [
    GaussianNoiseLayer(0.1, seed=1), UniformNoise(0.05), LaplaceNoise(0.02), Normalize([0.5] * 3, [0.2] * 3),
    ColorDepth(3), FFTCompress(0.6), SVDCompress(4), NoiseRegister(), PadShortcut(6, 2),
    PNIConv2D(4, 3, pni="w+a_out", granularity="channelwise", padding="same"), PNIDense(3, pni="a_in"),
    ParamNoiseConv2D(4, 3, sigma=0.2, train_noise=False, padding="same"), ParamNoiseDense(3, sigma=0.1),
])
def test_every_layer_round_trips_through_a_keras_file(layer, tmp_path):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, layer(inputs), name="one_layer")
    loaded = _roundtrip(model, tmp_path, tf.random.stateless_uniform([2, 8, 8, 3], seed=[3, 4]))
    twin = loaded.layers[1]
    assert type(twin) is type(layer) and twin.get_config() == layer.get_config()
    assert (twin.is_random, twin.is_differentiable) == (layer.is_random, layer.is_differentiable)


@pytest.mark.parametrize("name", ["resnet20", "resnet18", "vgg11", "alexnet_cifar", "lenet5"])
def test_every_model_round_trips_through_a_keras_file(name, tmp_path):
    model = zoo.create(name, input_shape=(16, 16, 3), width=0.125, pni="W+A-a", anp_layers=1,
                       channel="color_depth:bits=6")
    _roundtrip(model, tmp_path, tf.random.stateless_uniform([2, 16, 16, 3], seed=[5, 6]))


def test_inference_noise_switch_and_randomness_report():
    model = zoo.create("resnet20", width=0.25, input_shape=(8, 8, 3), pni="W", channel="color_depth:bits=4")
    x = tf.random.stateless_uniform([4, 8, 8, 3], seed=[7, 8])
    assert np.abs(model(x) - model(x)).max() > 0
    with zoo.inference_noise(model, False):
        np.testing.assert_array_equal(model(x), model(x))
        assert zoo.randomness(model)["is_random"] is False
    assert np.abs(model(x) - model(x)).max() > 0  # restored
    info = zoo.randomness(model)
    assert info["is_random"] and not info["is_differentiable"]
    assert info["nondifferentiable_layers"] == ["channel_color_depth"]


@pytest.mark.parametrize("call, message", [
    (lambda: zoo.create("resnet21"), "unknown model 'resnet21': expected one of alexnet"),
    (lambda: zoo.create("resnet20", pni="Q"), "unknown PNI variant 'Q': expected one of"),
    (lambda: zoo.create("resnet20", depth_multiplier=2), "'depth_multiplier'"),
    (lambda: zoo.create("resnet20", width=0), "width=0"),
    (lambda: zoo.create("resnet20", input_shape=(32, 32)), "input_shape=(32, 32)"),
    (lambda: zoo.create("resnet20", channel="blur:sigma=1"), "unknown input channel 'blur'"),
])
def test_bad_model_requests_give_one_line_errors(call, message):
    with pytest.raises(ZooError) as err:
        call()
    assert message in str(err.value) and "\n" not in str(err.value)
