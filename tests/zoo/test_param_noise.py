"""ParamNet layers (perturbation study sec. 3.6, Fig. 5 left): fixed-scale weight noise sigma * std(w)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.errors import ZooError
from zoo.layers import ParamNoiseConv2D, ParamNoiseDense


@pytest.mark.parametrize("sigma", [0.25, 0.1])
def test_weight_noise_std_is_sigma_times_std_of_w(sigma):
    layer = ParamNoiseDense(500, sigma=sigma, use_bias=False, seed=4)
    layer.build((None, 400))
    x = tf.eye(400)  # output rows are the (noisy) weight rows
    for training in (True, False):
        injected = (layer(x, training=training) - layer.kernel).numpy()
        assert abs(injected.mean()) < 5 * injected.std() / np.sqrt(injected.size)
        assert injected.std() == pytest.approx(sigma * float(tf.math.reduce_std(layer.kernel)), rel=0.01)


def test_conv_weight_noise_scale_and_exact_kernel_gradient():
    layer = ParamNoiseConv2D(64, 3, sigma=0.2, padding="same", seed=2)
    x = tf.random.stateless_uniform([8, 12, 12, 16], seed=[1, 2])
    layer.build(x.shape)
    state = layer.seed_generator.state.numpy().copy()
    c = tf.random.stateless_normal([8, 12, 12, 64], seed=[3, 4])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) * c)
    grad = tape.gradient(loss, layer.kernel)
    layer.seed_generator.state.assign(state)  # the same draw again
    noise = (layer.noisy_kernel(True) - layer.kernel).numpy()
    assert noise.std() == pytest.approx(0.2 * float(tf.math.reduce_std(layer.kernel)), rel=0.03)
    with tf.GradientTape() as tape:  # noise is additive and std(w) carries no gradient: dL/dw = dL/dw~
        w_tilde = tf.constant(layer.kernel.numpy() + noise)
        tape.watch(w_tilde)
        loss2 = tf.reduce_sum(tf.nn.conv2d(x, w_tilde, 1, "SAME") * c)
    np.testing.assert_allclose(loss2, loss, rtol=1e-5)
    np.testing.assert_allclose(grad, tape.gradient(loss2, w_tilde), rtol=1e-4, atol=1e-4)


def test_no_trainable_noise_variable():
    plain = zoo.create("resnet20", input_shape=(8, 8, 3), width=0.25)
    param = zoo.create("resnet20", input_shape=(8, 8, 3), width=0.25, paramnet=0.3)
    layers = [l for l in param._flatten_layers() if isinstance(l, (ParamNoiseConv2D, ParamNoiseDense))]
    assert len(layers) == 20 and {l.sigma for l in layers} == {0.3}  # 19 convs + the classifier
    assert [v.path.split("/")[-1] for v in param.trainable_weights] == \
        [v.path.split("/")[-1] for v in plain.trainable_weights]
    assert zoo.count_params(param, include_alpha=True) == zoo.count_params(plain) == 17_326


def test_inference_only_switch_keeps_training_calls_clean():
    layer = ParamNoiseDense(6, sigma=0.5, train_noise=False, seed=1)
    x = tf.random.stateless_uniform([5, 7], seed=[5, 6])
    layer.build(x.shape)
    clean = (tf.matmul(x, layer.kernel) + layer.bias).numpy()
    np.testing.assert_allclose(layer(x, training=True), clean, atol=1e-6)
    np.testing.assert_array_equal(layer(x, training=True), layer(x, training=True))
    assert np.abs(layer(x, training=False).numpy() - clean).max() > 1e-3  # noise at inference ...
    layer.inference_noise = False
    np.testing.assert_allclose(layer(x, training=False), clean, atol=1e-6)  # ... unless switched off
    both = ParamNoiseDense(6, sigma=0.5, seed=1)
    both.build(x.shape)
    assert np.abs(both(x, training=True).numpy() - both(x, training=True).numpy()).max() > 1e-3


def test_round_trip_declarations_and_model_switches(tmp_path):
    inputs = keras.Input((8, 8, 3))
    y = ParamNoiseConv2D(4, 3, sigma=0.3, train_noise=False, padding="same", name="c")(inputs)
    y = ParamNoiseDense(3, sigma=0.1, name="d")(keras.layers.Flatten()(y))
    model = keras.Model(inputs, y)
    model.save(tmp_path / "p.keras")
    loaded = keras.models.load_model(tmp_path / "p.keras")
    for name in ("c", "d"):
        a, b = model.get_layer(name), loaded.get_layer(name)
        assert type(a) is type(b) and a.get_config() == b.get_config()
        assert (b.is_random, b.is_differentiable) == (True, True)
    x = tf.random.stateless_uniform([2, 8, 8, 3], seed=[1, 1])
    with zoo.inference_noise(model, False), zoo.inference_noise(loaded, False):
        np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)
    assert zoo.randomness(loaded)["random_layers"] == ["c", "d"]
    with zoo.no_noise(loaded):
        np.testing.assert_array_equal(loaded(x, training=True), loaded(x, training=True))


def test_exported_deterministic_signature_is_noise_free(tmp_path):
    model = zoo.create("resnet20", input_shape=(8, 8, 3), width=0.25, paramnet=0.5)
    x = tf.random.stateless_uniform([3, 8, 8, 3], seed=[7, 8])
    with zoo.inference_noise(model, False):
        clean = model(x, training=False).numpy()
    loaded = tf.saved_model.load(zoo.export(model, str(tmp_path), name="paramnet"))
    det = [loaded.signatures["serve_deterministic"](images=x)["logits"].numpy() for _ in range(2)]
    noisy = [loaded.signatures["serving_default"](images=x)["logits"].numpy() for _ in range(2)]
    np.testing.assert_array_equal(det[0], det[1])
    np.testing.assert_allclose(det[0], clean, rtol=1e-4, atol=1e-4)
    assert np.abs(noisy[0] - noisy[1]).max() > 1e-3 and zoo.read_metadata(str(tmp_path / "paramnet" / "1"))["is_random"]


@pytest.mark.parametrize("call, message", [
    (lambda: ParamNoiseDense(3, sigma=-0.1), "ParamNoiseDense sigma=-0.1: expected a value >= 0"),
    (lambda: zoo.create("resnet20", paramnet=0.2, pni="W"), "paramnet=0.2 with pni='w': expected one weight-noise"),
    (lambda: zoo.create("resnet20", paramnet=-1.0), "paramnet=-1.0: expected a noise scale >= 0"),
])
def test_bad_paramnet_requests_give_one_line_errors(call, message):
    with pytest.raises(ZooError) as err:
        call()
    assert message in str(err.value) and "\n" not in str(err.value)
