import numpy as np
import pytest
import tensorflow as tf

from zoo import adversarial

W = tf.constant(np.random.default_rng(0).normal(size=(12, 2)).astype("float32"))


def linear(x):
    return tf.matmul(tf.reshape(x, [-1, 12]), W)


def _x(n=16, seed=1):
    # away from the box edges so that the L-inf optimum is not clipped
    return tf.constant(np.random.default_rng(seed).uniform(0.2, 0.8, size=(n, 2, 2, 3)).astype("float32"))


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_linf_attack_on_a_linear_model_reaches_the_analytic_optimum(attack):
    """For logits x W, the worst L-inf perturbation of the margin is eps * sign(w_y - w_other)."""
    x, eps = _x(), 0.05
    y = tf.argmax(linear(x), axis=1, output_type=tf.int32)
    if attack == "fgsm":
        x_adv = adversarial.fgsm(linear, x, y, eps)
    else:
        x_adv = adversarial.pgd_linf(linear, x, y, eps, step_size=0.01, steps=20)
    direction = tf.gather(tf.transpose(W), 1 - y) - tf.gather(tf.transpose(W), y)  # [N, 12]
    optimum = tf.reshape(x, [-1, 12]) + eps * tf.sign(direction)
    np.testing.assert_allclose(tf.reshape(x_adv, [-1, 12]), optimum, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda x, y: adversarial.pgd_linf(linear, x, y, 8 / 255, 2 / 255, 7),
    lambda x, y: adversarial.fgsm(linear, x, y, 8 / 255),
    lambda x, y: adversarial.step_ll(linear, x, 8 / 255),
    lambda x, y: adversarial.step_ll(linear, x, tf.fill([x.shape[0], 1, 1, 1], 16 / 255)),
])
def test_examples_stay_in_the_ball_and_in_the_box(make):
    x = tf.constant(np.random.default_rng(2).uniform(0, 1, size=(32, 2, 2, 3)).astype("float32"))
    y = tf.zeros([32], tf.int32)
    x_adv = make(x, y).numpy()
    assert np.abs(x_adv - x.numpy()).max() <= 16 / 255 + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert np.abs(x_adv - x.numpy()).max() > 0


def test_step_ll_moves_towards_the_least_likely_class():
    x = _x(seed=3)
    target = adversarial.least_likely(linear, x)
    before = tf.gather(tf.nn.log_softmax(linear(x)), target, batch_dims=1)
    after = tf.gather(tf.nn.log_softmax(linear(adversarial.step_ll(linear, x, 0.05))), target, batch_dims=1)
    assert bool(tf.reduce_all(after > before))


def test_eot_gradient_is_the_mean_over_the_sampled_calls():
    """EOT (Athalye et al. 2018): with n samples the gradient is the average of the n per-call gradients."""
    offsets = tf.constant([[3.0, -3.0], [-2.0, 2.0], [0.0, 0.0], [5.0, 1.0]])
    calls = tf.Variable(0)

    def random_model(x):  # a new "noise draw" (logit offset) at every call
        offset = offsets[calls % 4]
        calls.assign_add(1)
        return linear(x) + offset

    x, y = _x(), tf.zeros([16], tf.int32)
    eot = adversarial.loss_gradient(random_model, x, y, eot=4)
    calls.assign(0)
    single = [adversarial.loss_gradient(random_model, x, y, eot=1) for _ in range(4)]
    np.testing.assert_allclose(eot, tf.add_n(single) / 4.0, rtol=1e-5, atol=1e-7)
    assert np.abs(single[0] - single[1]).max() > 1e-3  # the draws really differ
