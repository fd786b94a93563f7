"""ANP / perturbation-study metrics on models whose answers are known in closed form."""
import numpy as np
import pytest
import tensorflow as tf

from eval.metrics import analysis, boundary, corruption, insensitivity


class Constant:
    """A 'model' that always predicts one class."""

    def __init__(self, label):
        self.label = label

    def predict(self, x, mode="served", batch_size=256):
        return np.full(len(x), self.label)


def test_mce_of_a_constant_model_matches_the_hand_computation():
    # labels: 10 examples, 3 of class 0. A model predicting class 0 has error 0.7 everywhere.
    y = np.array([0, 0, 0, 1, 2, 3, 4, 5, 6, 7])
    images = np.zeros((10, 2, 2, 3), np.float32)
    corrupted = {(name, s): images for name in ("gaussian_noise", "fog") for s in range(1, 6)}
    errors = corruption.corruption_errors(Constant(0), corrupted, y)
    assert errors == {"fog": [0.7] * 5, "gaussian_noise": [0.7] * 5}
    base = {"fog": [0.1, 0.2, 0.3, 0.4, 0.5], "gaussian_noise": [0.2, 0.3, 0.4, 0.5, 0.6]}
    scores = corruption.ce_scores(errors, 0.7, base, 0.05, ["gaussian_noise", "fog"])
    # CE: 3.5 / 1.5 and 3.5 / 2.0; relative: (3.5 - 5 * 0.7) / (1.5 - 0.25) = 0 and 0 / (2.0 - 0.25) = 0
    assert scores["CE"]["fog"] == pytest.approx(100 * 3.5 / 1.5)
    assert scores["CE"]["gaussian_noise"] == pytest.approx(100 * 3.5 / 2.0)
    assert scores["mCE"] == pytest.approx(100 * (3.5 / 1.5 + 3.5 / 2.0) / 2)
    assert scores["relative_mCE"] == pytest.approx(0.0)
    own = corruption.ce_scores(base, 0.05, base, 0.05, ["gaussian_noise", "fog"])
    assert own["mCE"] == pytest.approx(100.0) and own["relative_mCE"] == pytest.approx(100.0)  # baseline = 100


def test_a_corruption_the_baseline_never_gets_wrong_is_undefined_and_left_out_of_mce():
    """CE_c = sum E / sum E_base is undefined for sum E_base = 0: NaN and named, never scored 0 (or inf)."""
    base = {"fog": [0.0] * 5, "gaussian_noise": [0.2, 0.3, 0.4, 0.5, 0.6]}
    errors = {"fog": [0.1] * 5, "gaussian_noise": [0.1, 0.2, 0.3, 0.4, 0.5]}
    scores = corruption.ce_scores(errors, 0.0, base, 0.0, ["gaussian_noise", "fog"])
    assert np.isnan(scores["CE"]["fog"]) and np.isnan(scores["relative_CE"]["fog"])
    assert scores["undefined_CE"] == ["fog"] and scores["undefined_relative_CE"] == ["fog"]
    assert scores["mCE"] == pytest.approx(100 * 1.5 / 2.0)  # the mean of the defined CE only
    own = corruption.ce_scores(base, 0.0, base, 0.0, ["gaussian_noise", "fog"])
    assert own["mCE"] == pytest.approx(100.0)  # the baseline still scores 100 over what is defined
    none = corruption.ce_scores(errors, 0.0, {"fog": [0.0] * 5}, 0.0, ["fog"])
    assert np.isnan(none["mCE"])
    fr = corruption.fr_scores({"rotate": 0.1, "blur": 0.1}, {"rotate": 0.0, "blur": 0.05}, ["rotate", "blur"])
    assert np.isnan(fr["FR"]["rotate"]) and fr["undefined_FR"] == ["rotate"] and fr["mFR"] == pytest.approx(200.0)


def test_flip_rate_of_an_invariant_model_is_zero_and_of_a_flipper_is_known():
    sequences = np.random.default_rng(0).uniform(size=(4, 31, 2, 2, 3)).astype(np.float32)
    assert corruption.flip_probability(corruption.sequence_predictions(Constant(3), sequences)) == 0.0
    alternating = np.tile([0, 1], (4, 16))[:, :31]
    assert corruption.flip_probability(alternating) == 1.0
    scores = corruption.fr_scores({"rotate": 0.0, "blur": 0.1}, {"rotate": 0.2, "blur": 0.05}, ["rotate", "blur"])
    assert scores["FR"] == {"rotate": 0.0, "blur": pytest.approx(200.0)} and scores["mFR"] == pytest.approx(100.0)


def _linear(w, b):
    w_t, b_t = tf.constant(w), tf.constant(b)
    return lambda x: tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), w_t) + b_t


def test_boundary_distance_of_a_linear_classifier_is_the_analytic_one():
    rng = np.random.default_rng(1)
    dim = 12
    w = rng.normal(size=(dim, 2)).astype(np.float32)
    b = np.zeros(2, np.float32)
    x = rng.uniform(0.3, 0.7, size=(5, 2, 2, 3)).astype(np.float32)
    fn = _linear(w, b)
    y = np.argmax(fn(x).numpy(), 1)
    normal = w[:, 1] - w[:, 0]
    margin = np.abs(x.reshape(5, -1) @ normal)  # |logit difference|
    hyperplane = margin / np.linalg.norm(normal)

    # Directions containing the normal: the worst case is exactly the distance to the hyperplane.
    basis = boundary.orthogonal_directions(dim, dim, seed=3)
    basis[0] = normal / np.linalg.norm(normal)
    basis, _ = np.linalg.qr(basis.T)
    basis = basis.T.astype(np.float32)
    if abs(basis[0] @ normal) < 0.99 * np.linalg.norm(normal):
        basis[0] = normal / np.linalg.norm(normal)
    out = boundary.boundary_distance(fn, x, y, directions=basis)
    np.testing.assert_allclose(out["d"], hyperplane, rtol=1e-4)

    # Random directions: along v the boundary is at margin / |n.v|, the minimum over +-v of the set.
    v = boundary.orthogonal_directions(dim, 4, seed=5)
    out = boundary.boundary_distance(fn, x, None, directions=v)  # reference = the model's own prediction
    expected = margin / np.abs(v @ normal).max()
    np.testing.assert_allclose(out["d"], expected, rtol=1e-4)
    assert out["W_f_l2"] == pytest.approx(expected.mean(), rel=1e-4)
    assert out["W_f_rms255"] == pytest.approx(255 * expected.mean() / np.sqrt(dim), rel=1e-4)


def test_power_iteration_finds_the_largest_hessian_eigenvalue_of_a_quadratic():
    rng = np.random.default_rng(2)
    dim = 8
    q = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    eigenvalues = np.array([5.0, 2.0, 1.5, 1.0, 0.5, 0.2, -0.3, -1.0])
    a = (q * eigenvalues) @ q.T
    a_t = tf.constant(a, tf.float32)

    def quadratic(x):  # per-example 0.5 x^T A x: Hessian A everywhere
        flat = tf.reshape(x, [tf.shape(x)[0], -1])
        return 0.5 * tf.reduce_sum(tf.matmul(flat, a_t) * flat, axis=1)

    x = rng.normal(size=(3, 2, 2, 2)).astype(np.float32)
    lam = analysis.lambda_max(quadratic, x, iterations=60)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(a).max(), rtol=1e-3)
    v = tf.constant(rng.normal(size=x.shape).astype(np.float32))
    np.testing.assert_allclose(analysis.hvp(quadratic, tf.constant(x), v).numpy().reshape(3, -1),
                               v.numpy().reshape(3, -1) @ a, rtol=1e-4, atol=1e-5)


def test_noise_insensitivity_of_a_linear_model_under_fgsm_is_the_loss_slope():
    """For a linear model and small eps, |l(x) - l(x')| / ||x - x'||_inf -> ||grad_x l||_1."""
    rng = np.random.default_rng(4)
    w = rng.normal(size=(12, 2)).astype(np.float32)
    fn = _linear(w, np.zeros(2, np.float32))
    x = rng.uniform(0.3, 0.7, size=(6, 2, 2, 3)).astype(np.float32)
    y = np.argmax(fn(x).numpy(), 1)
    eps = 1e-3
    value = insensitivity.noise_insensitivity(fn, x, y, "fgsm", eps, copies=1)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(y), logits=fn(xt)))
    g = tape.gradient(loss, xt).numpy().reshape(6, -1)
    assert value == pytest.approx(np.abs(g).sum(1).mean(), rel=0.02)
    assert insensitivity.noise_insensitivity(fn, x, y, "gaussian_noise", 0.01, copies=3) < value * 1.0001


def test_gradient_norms_under_noise_draw_the_random_class_among_the_model_classes():
    """A 3-class model: the 'random class' is neither the label nor the adversarial class and exists."""
    rng = np.random.default_rng(6)
    fn = _linear(rng.normal(size=(12, 3)).astype(np.float32), np.zeros(3, np.float32))
    x = rng.uniform(0.2, 0.8, size=(6, 2, 2, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2], np.int32)
    x_adv = np.clip(x + rng.uniform(-0.1, 0.1, x.shape), 0, 1).astype(np.float32)
    curves = analysis.gradient_norms_under_noise(fn, x, y, x_adv, [0.0, 0.05], draws=2)
    assert len(curves) == 6 and all(len(v) == 2 and np.all(np.isfinite(v)) and min(v) > 0 for v in curves.values())
    adv = np.array([0, 2, 1, 1, 1, 0])
    other = analysis.random_other_class(y, adv, 3, np.random.default_rng(0))
    assert np.all((other != y) & (other != adv)) and np.all((0 <= other) & (other < 3))
    two = analysis.random_other_class(np.array([0, 1, 0]), np.array([0, 1, 1]), 2, np.random.default_rng(0))
    assert two.tolist() == [1, 0, 1]  # two classes: the other one, even when it is the adversarial class
