import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers import PNIConv2D, PNIDense, pni_perturb


def _draw_state(layer):
    return layer.seed_generator.state.numpy().copy()


def test_conv_weight_alpha_gradient_is_sum_of_upstream_times_eta():
    """PNI eq. (7)-(8): dL/dalpha = sum_i dL/dw~_i * eta_i, eta a constant sample."""
    layer = PNIConv2D(4, 3, pni="w", padding="same", seed=7)
    x = tf.random.stateless_uniform([2, 6, 6, 3], seed=[1, 2])
    c = tf.random.stateless_normal([2, 6, 6, 4], seed=[3, 4])
    layer.build(x.shape)
    state = _draw_state(layer)
    with tf.GradientTape() as tape:
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * c)
    g_alpha = tape.gradient(loss, layer.alphas["w"])

    layer.seed_generator.state.assign(state)  # the same eta again
    eta = tf.math.reduce_std(layer.kernel) * layer.sample_eta_unit(tf.shape(layer.kernel), tf.float32)
    w_tilde = tf.Variable(layer.kernel + layer.alphas["w"] * eta)
    with tf.GradientTape() as tape:
        y2 = tf.nn.conv2d(x, w_tilde, 1, "SAME")
        loss2 = tf.reduce_sum(y2 * c)
    g_w_tilde = tape.gradient(loss2, w_tilde)
    np.testing.assert_allclose(y2, y, atol=1e-5)
    assert float(g_alpha) == pytest.approx(float(tf.reduce_sum(g_w_tilde * eta)), rel=1e-4)
    assert abs(float(g_alpha)) > 1e-3


def test_dense_output_noise_alpha_gradient_and_no_gradient_through_sigma():
    layer = PNIDense(5, pni="a_out", seed=11)
    x = tf.random.stateless_normal([8, 6], seed=[5, 6])
    c = tf.random.stateless_normal([8, 5], seed=[7, 8])
    layer.build(x.shape)
    state = _draw_state(layer)
    with tf.GradientTape(persistent=True) as tape:
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * c)
    g_alpha, g_kernel = tape.gradient(loss, [layer.alphas["a_out"], layer.kernel])
    layer.seed_generator.state.assign(state)
    clean = tf.matmul(x, layer.kernel) + layer.bias
    eta = tf.math.reduce_std(clean) * layer.sample_eta_unit(tf.shape(clean), tf.float32)
    np.testing.assert_allclose(y, clean + 0.25 * eta, atol=1e-5)
    assert float(g_alpha) == pytest.approx(float(tf.reduce_sum(c * eta)), rel=1e-4)
    # sigma is a constant: d v~/d v = identity, so the kernel gradient is the clean one.
    np.testing.assert_allclose(g_kernel, tf.matmul(x, c, transpose_a=True), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.25, 0.1])
def test_injected_noise_std_is_alpha_times_std_of_v(alpha):
    v = tf.random.stateless_normal([400, 500], seed=[1, 1], stddev=3.0) + 1.0
    eta_unit = tf.random.stateless_normal(v.shape, seed=[2, 2])
    noise = (pni_perturb(v, alpha, eta_unit) - v).numpy()
    assert noise.std() == pytest.approx(alpha * float(tf.math.reduce_std(v)), rel=0.01)

    layer = PNIDense(500, pni="w", alpha_init=alpha, use_bias=False, seed=4)
    layer.build((None, 400))
    x = tf.eye(400)  # output rows are the (noisy) weight rows
    injected = (layer(x, training=True) - layer.kernel).numpy()
    assert injected.std() == pytest.approx(alpha * float(tf.math.reduce_std(layer.kernel)), rel=0.01)


def test_granularity_sets_alpha_shapes_and_names_carry_alpha():
    layer = PNIConv2D(8, 3, pni="w+a_out+a_in", granularity="channelwise", padding="same")
    layer.build((None, 10, 10, 3))
    assert {k: tuple(v.shape) for k, v in layer.alphas.items()} == {"w": (8,), "a_out": (8,), "a_in": (3,)}
    assert all("alpha" in v.path for v in layer.alphas.values())
    elem = PNIConv2D(8, 3, pni="w", granularity="elementwise")
    elem.build((None, 10, 10, 3))
    assert tuple(elem.alphas["w"].shape) == (3, 3, 3, 8)
    assert float(elem.alphas["w"].numpy().mean()) == 0.25  # PNI sec. 3.1 init


def test_inference_switch():
    layer = PNIDense(4, pni="w", seed=1)
    x = tf.random.uniform([3, 5])
    layer.build(x.shape)
    assert np.abs(layer(x) - layer(x)).max() > 0          # noise at inference by default
    layer.inference_noise = False
    np.testing.assert_array_equal(layer(x), layer(x))
    np.testing.assert_allclose(layer(x), tf.matmul(x, layer.kernel) + layer.bias, atol=1e-6)
    assert np.abs(layer(x, training=True) - layer(x)).max() > 0  # training noise stays on


def test_bad_placement_and_granularity_are_named():
    with pytest.raises(ZooError, match="unknown PNI placement 'x'"):
        PNIDense(3, pni="w+x")
    with pytest.raises(ZooError, match="granularity 'rowwise'.*channelwise"):
        PNIDense(3, granularity="rowwise")


def test_alpha_init_is_settable_and_is_alpha_finds_exactly_the_alphas():
    import zoo
    from zoo.layers import is_alpha
    from zoo.models import count_params
    net = zoo.create("resnet20", width=0.25, pni="W+A-a", pni_alpha_init=0.1, num_classes=10, input_shape=(8, 8, 3))
    alphas = [v for v in net.trainable_variables if is_alpha(v)]
    pni_layers = [layer for layer in net._flatten_layers() if isinstance(layer, (PNIConv2D, PNIDense))]
    assert len(alphas) == 2 * len(pni_layers) == 2 * 20  # w and a_out on 19 convs and the classifier
    assert all(float(v.numpy()) == pytest.approx(0.1) for v in alphas)
    assert count_params(net, include_alpha=True) - count_params(net) == len(alphas)  # layerwise: one each
    assert not any(is_alpha(v) for v in zoo.create("resnet20", width=0.25, num_classes=10,
                                                   input_shape=(8, 8, 3)).variables)
    with pytest.raises(ZooError, match=r"pni_alpha_init=-0\.5: expected a noise scale >= 0"):
        zoo.create("resnet20", pni="W", pni_alpha_init=-0.5)
