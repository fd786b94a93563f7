"""EOT as Athalye et al. define it: attacks follow the mean of per-draw loss gradients, not the gradient
of averaged logits. The test model flips the sign of its logits on every other call, so its averaged
logits are identically 0 (their gradient cancels) while each draw's loss has a gradient."""
import numpy as np
import pytest
import tensorflow as tf

from eval.attacks import EOTModel, get, list_attacks, run_attack
from eval.attacks.eot import eot_view, per_draw
from zoo.errors import ZooError

SHAPE = (4, 4, 1)
DIM = int(np.prod(SHAPE))


def _sign_flip_model(classes=2, seed=0):
    """(draw, w): draw k returns s_k * flatten(x) @ w with s_k = +1, -1, +1, ... (a tf.Variable counter,
    so the sequence is the same eager and traced)."""
    rng = np.random.default_rng(seed)
    w = tf.constant(rng.normal(0.0, 1.0, (DIM, classes)).astype(np.float32))
    counter = tf.Variable(0, dtype=tf.int64)

    def draw(x):
        sign = 1.0 - 2.0 * tf.cast(counter % 2, tf.float32)
        counter.assign_add(1)
        return sign * (tf.reshape(x, [tf.shape(x)[0], -1]) @ w)

    return draw, w, counter


def _data(n=5, classes=2, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3, 0.7, (n,) + SHAPE).astype(np.float32), rng.integers(0, classes, n).astype(np.int32)


def _hand_gradients(w, x, y):
    """Per-draw loss gradients d/dx CE(s * x @ w, y) for s = +1 and -1, by hand: s w (softmax(s z) - e_y)."""
    z = x.reshape(len(x), -1) @ w.numpy()
    grads = []
    for s in (1.0, -1.0):
        p = np.exp(s * z - (s * z).max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grads.append(s * (p - np.eye(w.shape[1])[y]) @ w.numpy().T)
    return grads


def test_eot_model_averages_logits_when_called_and_stacks_draws():
    draw, w, _ = _sign_flip_model()
    x, y = _data()
    for mode in ("gradient", "logits"):
        model = EOTModel(draw, 2, mode)
        np.testing.assert_allclose(model(x).numpy(), 0.0, atol=1e-6)  # +z and -z average to 0
    model = EOTModel(draw, 4, "gradient")
    stacked = model.stacked(x).numpy()
    z = x.reshape(len(x), -1) @ w.numpy()
    assert stacked.shape == (4 * len(x), 2)
    np.testing.assert_allclose(stacked, np.concatenate([z, -z, z, -z]), rtol=1e-5, atol=1e-6)
    fn, labels = eot_view(model, tf.constant(y))
    assert fn is model.stacked and labels.numpy().tolist() == np.tile(y, 4).tolist()
    fn, labels = eot_view(EOTModel(draw, 4, "logits"), tf.constant(y))  # logits: untouched
    assert not isinstance(labels, np.ndarray) and labels.shape == (len(y),)
    with pytest.raises(ZooError, match="eot_mode"):
        EOTModel(draw, 2, "mean")


def test_gradient_eot_step_is_the_mean_of_the_per_draw_loss_gradients():
    """One PGD-L2 step of size eta moves by eta * g / ||g||: g must be the mean of the hand-made per-draw
    gradients (Athalye et al. 2018, E[grad L]); the logit-averaged model gives g = 0 and does not move."""
    draw, w, counter = _sign_flip_model(classes=3)
    x, y = _data(classes=3)
    step = dict(eps=0.05, step_size=0.05, steps=1, random_start=False)
    counter.assign(0)
    moved = run_attack("pgd_l2", EOTModel(draw, 2, "gradient"), x, y, **step).numpy() - x
    expected = np.mean(_hand_gradients(w, x, y), axis=0)
    expected = 0.05 * expected / np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(moved.reshape(len(x), -1), expected, atol=1e-5)
    assert np.abs(expected).max() > 1e-3  # the per-draw gradients do not cancel
    counter.assign(0)
    still = run_attack("pgd_l2", EOTModel(draw, 2, "logits"), x, y, **step).numpy()
    np.testing.assert_allclose(still, x, atol=1e-7)  # averaged logits: gradient 0, no step


@pytest.mark.parametrize("name", [n for n in list_attacks() if get(n).eot_loss] + ["step_ll"])
def test_logit_averaging_cancels_where_loss_gradient_averaging_does_not(name):
    draw, _, counter = _sign_flip_model()
    x, y = _data()
    params = {"eps": 0.05}
    if "steps" in get(name).defaults:
        params.update(step_size=0.05, steps=1)
    if "random_start" in get(name).defaults:
        params["random_start"] = False
    counter.assign(0)
    logits = run_attack(name, EOTModel(draw, 2, "logits"), x, y, **params).numpy()
    counter.assign(0)
    gradient = run_attack(name, EOTModel(draw, 2, "gradient"), x, y, **params).numpy()
    np.testing.assert_allclose(logits, x, atol=1e-7, err_msg=f"{name}: averaged logits must give no step")
    moved = np.abs(gradient - x).reshape(len(x), -1).max(1)
    assert np.all(moved > 0.01), f"{name}: gradient EOT moved by {moved}, expected > 0.01 for every image"


def test_spsa_loss_is_the_per_draw_mean_under_gradient_eot():
    draw, w, counter = _sign_flip_model(classes=3)
    x, y = _data(classes=3)

    def margin(logits):  # highest other logit minus the label's; one label for the batch, as SPSA calls it
        onehot = tf.one_hot(y[:1], 3)
        return tf.reduce_max(logits - 1e5 * onehot, -1) - tf.reduce_sum(onehot * logits, -1)

    counter.assign(0)
    value = per_draw(EOTModel(draw, 2, "gradient"), margin, tf.constant(x)).numpy()
    z = x.reshape(len(x), -1) @ w.numpy()
    expected = (margin(tf.constant(z)).numpy() + margin(tf.constant(-z)).numpy()) / 2
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    assert np.abs(value).max() > 1e-3
    counter.assign(0)
    np.testing.assert_allclose(per_draw(EOTModel(draw, 2, "logits"), margin, tf.constant(x)).numpy(), 0.0, atol=1e-5)
