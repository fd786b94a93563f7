import keras
import numpy as np
import tensorflow as tf

import zoo
from zoo.layers import NoiseRegister, inject_noise, registers


def test_register_is_identity_without_injection_and_adds_r_with_it():
    layer = NoiseRegister(name="reg")
    z = tf.random.uniform([3, 4, 4, 2])
    np.testing.assert_array_equal(layer(z), z)
    r = tf.random.uniform([3, 4, 4, 2])
    with inject_noise({"reg": r}):
        np.testing.assert_allclose(layer(z), z + r)
    np.testing.assert_array_equal(layer(z), z)  # gone after the block


def test_gradient_wrt_register_equals_gradient_wrt_preactivation():
    """dL/dr_m = dL/dz_m (ANP eq. 2's g_m), checked against the network evaluated from z_m by hand."""
    affine, act, head = keras.layers.Dense(6), keras.layers.ReLU(), keras.layers.Dense(3)
    inputs = keras.Input((5,))
    model = keras.Model(inputs, head(act(NoiseRegister(name="reg")(affine(inputs)))))
    x = tf.random.stateless_normal([4, 5], seed=[1, 2])
    y = tf.constant([0, 1, 2, 1])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    r = tf.zeros([4, 6])
    with tf.GradientTape() as tape:
        tape.watch(r)
        with inject_noise({"reg": r}):
            loss = loss_fn(y, model(x))
    g_r = tape.gradient(loss, r)

    z = affine(x)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss2 = loss_fn(y, head(act(z)))
    g_z = tape.gradient(loss2, z)
    np.testing.assert_allclose(loss, loss2, rtol=1e-6)
    np.testing.assert_allclose(g_r, g_z, rtol=1e-5, atol=1e-8)
    assert float(tf.reduce_max(tf.abs(g_r))) > 0


def test_zoo_registers_sit_after_batch_norm_and_before_the_activation():
    """ANP Algorithm 1 lines 7-9: z_m = affine(a_{m-1}); z_m += r_m; a_m = relu(z_m)."""
    model = zoo.create("resnet20", width=0.25, anp_layers=3, input_shape=(8, 8, 3))
    regs = registers(model)
    assert [r.name for r in regs] == ["conv0_anp", "stage1_block0_conv1_anp", "stage1_block0_conv2_anp"]
    for reg in regs:
        before = reg._inbound_nodes[0].parent_nodes[0].operation
        after = {n.operation.__class__.__name__ for n in reg._outbound_nodes}
        assert isinstance(before, keras.layers.BatchNormalization)
        assert after <= {"ReLU", "Add"}  # the block's second conv: residual sum, then ReLU
    vgg = zoo.create("vgg11", width=0.125, anp_layers=4, input_shape=(8, 8, 3))
    assert len(registers(vgg)) == 4
    assert len(registers(zoo.create("vgg11", width=0.125, input_shape=(8, 8, 3)))) == 0
