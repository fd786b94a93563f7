"""ResNet-50 (torchvision v1.5 layout): parameter count, geometry, defaults, and every zoo variant on it.

Forward passes run on one 224x224 image or on 64x64 inputs only (CI has 2 cores)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import data
from zoo.layers import ColorDepth, GaussianNoiseLayer, NoiseRegister, Normalize, PNIConv2D, PNIDense

TORCHVISION_RESNET50 = 25_557_032  # torchvision.models.resnet50(): sum(p.numel() for p in parameters())


def layers_of(model, cls):
    return [l for l in model._flatten_layers() if isinstance(l, cls)]


@pytest.fixture(scope="module")
def imagenet_model():
    return zoo.create("resnet50", num_classes=1000)


def test_parameter_count_and_layout_match_torchvision(imagenet_model):
    m = imagenet_model
    assert zoo.count_params(m) == TORCHVISION_RESNET50
    convs, bns = layers_of(m, keras.layers.Conv2D), layers_of(m, keras.layers.BatchNormalization)
    assert len(convs) == len(bns) == 53  # stem + 16 blocks x 3 + 4 projection shortcuts
    assert not any(c.use_bias for c in convs)
    assert {(b.momentum, b.epsilon) for b in bns} == {(0.9, 1e-5)}
    # BN moving statistics are torchvision's running_mean/var buffers: 2 x 26,560 channels.
    assert sum(int(np.prod(w.shape)) for w in m.non_trainable_weights) == 53_120
    shapes = {name: tuple(m.get_layer(name).output.shape[1:]) for name in
              ("conv0", "pool0", "stage1_block2_relu", "stage2_block3_relu", "stage3_block5_relu",
               "stage4_block2_relu")}
    assert shapes == {"conv0": (112, 112, 64), "pool0": (56, 56, 64), "stage1_block2_relu": (56, 56, 256),
                      "stage2_block3_relu": (28, 28, 512), "stage3_block5_relu": (14, 14, 1024),
                      "stage4_block2_relu": (7, 7, 2048)}
    # v1.5: the stride sits on the 3x3 conv of a stage's first block (and its shortcut), not on the 1x1.
    assert m.get_layer("stage2_block0_conv1").strides == (1, 1)
    assert m.get_layer("stage2_block0_conv2").strides == (2, 2)
    assert m.get_layer("stage2_block0_shortcut").strides == (2, 2)


def test_defaults_are_imagenet_ones_and_one_image_runs(imagenet_model):
    m = imagenet_model
    assert m.input_shape == (None, 224, 224, 3) and m.output_shape == (None, 1000)
    norm = layers_of(m, Normalize)[0]
    np.testing.assert_allclose(np.ravel(norm.mean), data.IMAGENET_MEAN)
    np.testing.assert_allclose(np.ravel(norm.std), data.IMAGENET_STD)
    assert m.zoo_spec["variant"]["mean"] == list(data.IMAGENET_MEAN) == list(data.info("imagenet2012").mean)
    logits = m(tf.random.stateless_uniform([1, 224, 224, 3], seed=[0, 1]), training=False)
    assert logits.shape == (1, 1000) and np.isfinite(logits.numpy()).all()
    assert zoo.create("resnet20").input_shape == (None, 32, 32, 3)  # CIFAR models keep 32x32x3 and CIFAR stats
    assert zoo.create("resnet20").zoo_spec["variant"]["mean"] == [0.4914, 0.4822, 0.4465]


X64 = tf.random.stateless_uniform([2, 64, 64, 3], seed=[2, 3])
PARAMS_10_CLASSES = TORCHVISION_RESNET50 - 2049 * 1000 + 2049 * 10  # the same network with a 10-way head


@pytest.mark.parametrize("variant", [
    {"pni": "W"}, {"robustnet": True}, {"channel": "color_depth:bits=4"}, {"anp_layers": 2}])
def test_every_variant_builds_and_runs_at_64x64(variant):
    m = zoo.create("resnet50", num_classes=10, input_shape=(64, 64, 3), **variant)
    assert zoo.count_params(m) == PARAMS_10_CLASSES
    convs = layers_of(m, keras.layers.Conv2D)
    dense = layers_of(m, keras.layers.Dense)
    assert (len(convs), len(dense)) == (53, 1)
    logits = m(X64, training=False)
    assert logits.shape == (2, 10) and np.isfinite(logits.numpy()).all()
    assert zoo.randomness(m)["is_random"] == bool(variant.get("pni") or variant.get("robustnet"))
    if "pni" in variant:  # PNI-W: one layerwise alpha on every conv and the dense layer
        assert len(layers_of(m, PNIConv2D)) + len(layers_of(m, PNIDense)) == 54
        alphas = [v for v in m.trainable_weights if "alpha" in v.path]
        assert len(alphas) == 54 and zoo.count_params(m, include_alpha=True) == PARAMS_10_CLASSES + 54
    if variant.get("robustnet"):  # RobustNet: a noise layer before every conv, sigma_init before the first
        noise = layers_of(m, GaussianNoiseLayer)
        assert len(noise) == len(convs) == 53
        assert noise[0].stddev == 0.2 and {n.stddev for n in noise[1:]} == {0.1}
    if "channel" in variant:  # the channel sits between the [0,1] input and Normalize
        assert isinstance(m.layers[1], ColorDepth) and m.layers[1].bits == 4 and isinstance(m.layers[2], Normalize)
    if "anp_layers" in variant:  # the first two hidden layers: the stem and the first block's 1x1 conv
        assert [r.name for r in layers_of(m, NoiseRegister)] == ["conv0_anp", "stage1_block0_conv1_anp"]
