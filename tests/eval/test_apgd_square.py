"""APGD (Croce & Hein 2020) and Square (Andriushchenko et al. 2020): analytic optima on linear models,
DLR invariances, budgets, Square vs SPSA at one query budget, early exit, EOT, tracing once, the
AutoAttack plan and the per-example worst case. Models are hand-made linear classifiers (answers in
closed form, independent of the CPU's float rounding) or an untrained LeNet on 8x8 images."""
import numpy as np
import pytest
import tensorflow as tf

from eval.attacks import EOTModel, get, run_attack
from eval.attacks.apgd import checkpoints, dlr_loss, dlr_targeted_loss, loss_and_gradient
from eval.metrics.robustness import autoattack, evaluate, worst_case
from tests.eval.test_eot import _data, _hand_gradients, _sign_flip_model
from zoo.errors import ZooError

EPS = 8.0 / 255.0
SHAPE = (8, 8, 1)
DIM = int(np.prod(SHAPE))
NEW = ("apgd_ce", "apgd_dlr", "apgd_t", "square", "apgd_ce_l2", "apgd_dlr_l2", "apgd_t_l2", "square_l2", "pgd_exit",
       "fab_t", "fab_t_l2")


def _linear_model(w, counter=None):
    w = tf.constant(np.asarray(w, np.float32))

    def model_fn(x):
        if counter is not None:  # rows evaluated (a tf.Variable: counts traced calls too)
            counter.assign_add(tf.cast(tf.shape(x)[0], tf.int64))
        return tf.reshape(x, [tf.shape(x)[0], -1]) @ w

    return model_fn


def _two_class(margin_scale, n=8, seed=0, eps=EPS):
    """Two-class linear model (d = w_1 - w_0, |d_i| in [0.07, 0.1]) and images whose signed margin
    z_y - z_other is ``margin_scale`` * eps * ||d||_1 (labels alternate 1, 0, ...); x in [0.25, 0.75]."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 0.1, DIM)
    d = rng.choice([-1.0, 1.0], DIM) * rng.uniform(0.7, 1.0, DIM) * 0.1
    w = np.stack([base, base + d], axis=1)
    x0 = rng.uniform(0.4, 0.6, size=(n, DIM))
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)  # logit_1 - logit_0 > 0 for label 1
    target = sign * margin_scale * eps * np.abs(d).sum()
    x = x0 - ((x0 @ d - target) / (d @ d))[:, None] * d[None]
    assert 0.25 <= x.min() and x.max() <= 0.75
    y = np.where(sign > 0, 1, 0).astype(np.int32)
    return w, x.reshape((n,) + SHAPE).astype(np.float32), y, d


def _flat(a):
    return np.asarray(a).reshape(len(a), -1)


def _margin(model_fn, x, y):
    z = model_fn(tf.constant(x)).numpy()
    return z[np.arange(len(y)), y] - np.max(np.where(np.eye(z.shape[1])[y] > 0, -np.inf, z), axis=1)


# ---------------------------------------------------------------- the paper's constants


def test_checkpoints_follow_the_paper_schedule():
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (sec. 3.2); w_j = ceil(p_j * N_iter)
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(10) == [3, 5, 6, 7, 8, 9, 10]


def test_registered_defaults_are_the_papers():
    assert get("apgd_ce").defaults == dict(eps=EPS, steps=100, n_restarts=1, rho=0.75, alpha=0.75)
    assert get("apgd_t").defaults["n_target_classes"] == 9 and get("apgd_t").norm == "linf"
    assert get("apgd_ce_l2").norm == "l2" and get("apgd_ce_l2").defaults["eps"] == 0.5
    assert get("square").defaults == dict(eps=EPS, n_queries=5000, p_init=0.8, seed=None)
    assert get("square").kind == "blackbox" and get("square_l2").norm == "l2"
    from eval.attacks.square import p_selection
    # p_init halves after queries 10, 50, 200, ... of 10,000, scaled to n_queries
    assert [p_selection(0.8, q, 10000) for q in (10, 11, 51, 201, 8001)] == [0.8, 0.4, 0.2, 0.1, 0.8 / 512]
    assert p_selection(0.8, 6, 5000) == 0.4  # 6 / 5000 * 10000 = 12 > 10


def test_dlr_is_invariant_to_shifting_and_scaling_the_logits():
    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 3.0, (16, 10)).astype(np.float32)
    y = rng.integers(0, 10, 16).astype(np.int32)
    t = (y + 1 + rng.integers(0, 9, 16)).astype(np.int32) % 10
    for a, b in ((0.1, 5.0), (7.0, -3.0)):
        np.testing.assert_allclose(dlr_loss(a * z + b, y).numpy(), dlr_loss(z, y).numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(dlr_targeted_loss(a * z + b, y, t).numpy(), dlr_targeted_loss(z, y, t).numpy(),
                                   rtol=1e-4, atol=1e-5)
    # by hand on one row: z sorted 3 > 2 > 1 > 0, y = 1 (z_y = 2): -(2 - 3) / (3 - 1) = 0.5
    row = tf.constant([[0.0, 2.0, 3.0, 1.0]])
    assert dlr_loss(row, tf.constant([1])).numpy()[0] == pytest.approx(0.5)
    # targeted towards class 0: -(2 - 0) / (3 - (1 + 0) / 2) = -0.8
    assert dlr_targeted_loss(row, tf.constant([1]), tf.constant([0])).numpy()[0] == pytest.approx(-0.8)


# ---------------------------------------------------------------- analytic optima


@pytest.mark.parametrize("name", ["apgd_ce", "apgd_ce_l2"])
def test_apgd_reaches_the_analytic_optimum_of_a_linear_model(name):
    """Points whose margin exceeds the budget's reach stay robust: APGD must end at the minimiser of the
    margin in the ball, x + eps sign(w_other - w_y) (L-inf) or x + eps (w_other - w_y) / ||.||_2 (L2), and
    the margin there is the closed form margin - eps ||w_y - w_other||_1 (or _2)."""
    w, x, y, d = _two_class(margin_scale=3.0)
    model_fn = _linear_model(w)
    direction = np.where(y[:, None] == 0, d[None, :], -d[None, :])  # w_other - w_y
    if name == "apgd_ce":
        eps, optimum, reach = EPS, _flat(x) + EPS * np.sign(direction), EPS * np.abs(d).sum()
    else:
        eps = EPS * np.abs(d).sum() / np.linalg.norm(d)  # reach eps ||d||_2 = the L-inf reach eps_inf ||d||_1
        optimum = _flat(x) + eps * direction / np.linalg.norm(d)
        reach = eps * np.linalg.norm(d)
    tf.random.set_seed(0)
    x_adv = run_attack(name, model_fn, x, y, eps=eps, steps=20).numpy()
    np.testing.assert_allclose(_flat(x_adv), optimum, atol=2e-3 if name == "apgd_ce_l2" else 1e-5)
    expected = _margin(model_fn, x, y) - reach
    np.testing.assert_allclose(_margin(model_fn, x_adv, y), expected, atol=2e-4 * np.abs(expected).max())
    assert np.all(expected > 0)  # by construction: still robust at the optimum


def test_apgd_t_fools_a_multiclass_linear_model_exactly_beyond_the_closed_form_budget():
    """Four classes; image i's nearest wrong class is reachable exactly when eps > need_i = min_j margin_ij /
    ||w_y - w_j||_1 (no box binds). At 1.1 max(need) APGD-T (targets over the other classes) fools every
    image; at 0.9 min(need) none can be fooled, and APGD-T must not claim one."""
    rng = np.random.default_rng(1)
    w = rng.normal(0.0, 0.1, (DIM, 4))
    model_fn = _linear_model(w)
    x = rng.uniform(0.45, 0.55, (6,) + SHAPE).astype(np.float32)
    y = np.argmax(model_fn(x).numpy(), axis=1).astype(np.int32)
    z = _flat(x) @ w
    need = np.array([min((z[i, y[i]] - z[i, j]) / np.abs(w[:, y[i]] - w[:, j]).sum() for j in range(4) if j != y[i])
                     for i in range(len(y))])
    assert need.max() < 0.4  # x +- 1.1 need stays inside [0, 1]
    for eps, fooled in ((1.1 * need.max(), True), (0.9 * need.min(), False)):
        tf.random.set_seed(0)
        x_adv = run_attack("apgd_t", model_fn, x, y, eps=float(eps), steps=20).numpy()
        assert np.all((np.argmax(model_fn(x_adv).numpy(), 1) != y) == fooled), (eps, need)


# ---------------------------------------------------------------- budgets


@pytest.fixture(scope="module")
def lenet():
    import zoo
    import keras
    keras.utils.set_random_seed(1)
    model = zoo.create("lenet5", input_shape=SHAPE, num_classes=10)
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 1.0, size=(5,) + SHAPE).astype(np.float32)
    x[0, :4] = 0.0  # on the box faces: clipping must bind
    x[1, :4] = 1.0

    def model_fn(v):
        return model(v, training=False)

    y = (np.argmax(model_fn(x).numpy(), axis=1) + np.array([0, 0, 0, 1, 2])) % 10  # two already misclassified
    return model, model_fn, x, y.astype(np.int32)


@pytest.mark.parametrize("name", NEW)
def test_every_attack_stays_in_its_ball_and_the_box(lenet, name):
    _, model_fn, x, y = lenet
    spec = get(name)
    fast = dict(n_queries=200) if "square" in name else dict(steps=10)
    if name.startswith(("apgd_t", "fab_t")):
        fast["n_target_classes"] = 2
    tf.random.set_seed(0)
    if "square" in name:
        fast["seed"] = 0
    adv = run_attack(name, model_fn, x, y, **fast).numpy()
    assert adv.shape == x.shape and adv.min() >= 0.0 and adv.max() <= 1.0
    delta = _flat(adv) - _flat(x)
    size = np.abs(delta).max(1) if spec.norm == "linf" else np.linalg.norm(delta, axis=1)
    eps = spec.defaults["eps"]
    assert np.all(size <= eps * (1 + 1e-5) + 1e-6), (name, size, eps)
    assert size.max() > 0.5 * eps or name.startswith("fab")  # FAB returns minimal perturbations


# ---------------------------------------------------------------- Square vs SPSA


def test_square_lowers_accuracy_at_least_as_much_as_spsa_with_the_same_queries():
    """Margins at a quarter of the largest change an eps-step can make: a random search that keeps loss
    decreases must fool every image well within SPSA's budget (10 iterations x 64 samples = 640 queries)."""
    w, x, y, _ = _two_class(margin_scale=0.25)
    model_fn = _linear_model(w)
    assert np.all(_margin(model_fn, x, y) > 0)
    tf.random.set_seed(0)
    spsa = run_attack("spsa", model_fn, x, y).numpy()
    square = run_attack("square", model_fn, x, y, n_queries=640, seed=0).numpy()
    acc = {k: float(np.mean(np.argmax(model_fn(v).numpy(), 1) == y)) for k, v in (("spsa", spsa), ("square", square))}
    assert np.abs(square - x).max() <= EPS + 1e-6
    assert acc["square"] == 0.0 and acc["square"] <= acc["spsa"], acc


# ---------------------------------------------------------------- early exit


@pytest.mark.parametrize("name, budget", [("apgd_ce", 20), ("square", 100), ("pgd_exit", 20)])
def test_fooled_examples_leave_the_batch(name, budget):
    """Four images already fooled by any step (margin 0.05 of the reach) and four out of reach (margin 3x):
    the model must see the robust four on every step but the fooled four only at the start."""
    w, x_easy, y_easy, _ = _two_class(margin_scale=0.05, n=4, seed=0)
    _, x_hard, y_hard, _ = _two_class(margin_scale=3.0, n=4, seed=0)
    counter = tf.Variable(0, dtype=tf.int64)
    model_fn = _linear_model(w, counter)
    x, y = np.concatenate([x_easy, x_hard]), np.concatenate([y_easy, y_hard])
    params = dict(n_queries=budget, seed=0) if name == "square" else dict(steps=budget)
    counter.assign(0)
    tf.random.set_seed(0)
    x_adv = run_attack(name, model_fn, x, y, **params).numpy()
    rows = int(counter.numpy())  # image rows the model saw during the attack
    evaluations = budget if name == "square" else budget + 1  # APGD, PGD: x^0 .. x^N; Square: n_queries in all
    pred = np.argmax(model_fn(x_adv).numpy(), 1)
    assert np.all(pred[:4] != y[:4]) and np.all(pred[4:] == y[4:])
    # APGD's first step reaches the optimum (fooled by x^1); Square's random search needs a few queries
    slack = 4 * 10 if name == "square" else 4 * 2
    assert 4 * evaluations <= rows <= 4 * evaluations + slack, (rows, evaluations)  # without early exit: 8x


def test_pgd_exit_keeps_the_first_fooling_iterate_and_fools_all_that_plain_pgd_fools():
    """Two-class linear model, no random start: every step lowers the margin by step * ||d||_1, so an image at
    margin 1.2 steps is fooled by iterate 2 exactly; one at 3 eps is never fooled. Plain PGD (zoo.adversarial)
    fools the same images; early exit returns iterate 2 for them and costs 3 full batches, then half."""
    from eval.attacks.early_exit import pgd_early_exit
    from zoo.adversarial import pgd_linf
    step, steps = 2 / 255, 10
    w, x_easy, y_easy, d = _two_class(margin_scale=0.3, n=4, seed=0)  # 0.3 eps = 1.2 steps of 2/255
    _, x_hard, y_hard, _ = _two_class(margin_scale=3.0, n=4, seed=0)
    model_fn = _linear_model(w)
    x, y = np.concatenate([x_easy, x_hard]), np.concatenate([y_easy, y_hard])
    cost = []
    adv = pgd_early_exit(model_fn, x, y, EPS, step, steps, random_start=False, cost=cost).numpy()
    plain = pgd_linf(model_fn, tf.constant(x), tf.constant(y), EPS, step, steps, random_start=False).numpy()
    fooled = np.argmax(model_fn(adv).numpy(), 1) != y
    fooled_plain = np.argmax(model_fn(plain).numpy(), 1) != y
    assert fooled.tolist() == [True] * 4 + [False] * 4 and np.all(fooled >= fooled_plain)
    np.testing.assert_allclose(np.abs(_flat(adv[:4]) - _flat(x[:4])).max(1), 2 * step, rtol=1e-5)  # iterate 2
    assert np.abs(_flat(adv[4:]) - _flat(x[4:])).max() <= EPS + 1e-6
    assert cost == [3 * 8 + (steps - 3) * 4]  # without early exit: steps * 8


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fab_t_finds_the_minimal_perturbation_of_a_linear_model(norm):
    """Two classes, the box inactive: the smallest change is margin / ||d||_1 (L-inf) or margin / ||d||_2 (L2).
    FAB's iterates converge to the boundary from outside (eta 1.05, backward steps): within 1 % of it. With
    the budget at twice the margin's distance every image is fooled, at a third none is and x comes back."""
    from eval.attacks.fab import fab_targeted_run
    w, x, y, d = _two_class(margin_scale=0.5, n=6, seed=0)
    model_fn = _linear_model(w)
    _, dist = fab_targeted_run(model_fn, x, y, 1 - y, norm, steps=100)
    margin = 0.5 * EPS * np.abs(d).sum()
    minimal = margin / (np.abs(d).sum() if norm == "linf" else np.linalg.norm(d))
    assert np.all(dist >= minimal * (1 - 1e-4)) and np.all(dist <= minimal * 1.01), dist / minimal
    name = "fab_t" if norm == "linf" else "fab_t_l2"
    for eps, fooled in ((2 * minimal, True), (minimal / 3, False)):
        adv = run_attack(name, model_fn, x, y, eps=float(eps)).numpy()
        assert np.all((np.argmax(model_fn(adv).numpy(), 1) != y) == fooled)
        size = np.abs(_flat(adv) - _flat(x)).max(1) if norm == "linf" else np.linalg.norm(_flat(adv) - _flat(x), axis=1)
        assert np.all(size <= eps * (1 + 1e-5) + 1e-7) and (fooled or np.all(size == 0))


def test_fab_projections_meet_the_constraint_within_the_box():
    from eval.attacks.fab import project_l2, project_linf
    rng = np.random.default_rng(0)
    p, w = rng.uniform(0.2, 0.8, (5, 50)), rng.normal(size=(5, 50))
    r = rng.normal(scale=0.5, size=5)
    for project in (project_linf, project_l2):
        dd = project(p, w, r)
        np.testing.assert_allclose(np.einsum("nd,nd->n", w, dd), r, rtol=1e-6, atol=1e-9)
        assert (p + dd).min() >= -1e-12 and (p + dd).max() <= 1 + 1e-12
    unreachable = project_linf(p, w, np.full(5, 1e6))  # beyond the box: every coordinate to its helpful bound
    np.testing.assert_allclose(p + unreachable, np.where(w > 0, 1.0, 0.0), atol=1e-9)


# ---------------------------------------------------------------- EOT and tracing


def test_apgd_gradient_is_the_mean_of_per_draw_gradients_under_gradient_eot():
    draw, w, counter = _sign_flip_model(classes=3)
    x, y = _data(classes=3)
    counter.assign(0)
    model_fn = EOTModel(draw, 2, "gradient")  # held: the traced step keeps only a weak reference
    _, grad, logits = loss_and_gradient(model_fn, "ce")(tf.constant(x), tf.constant(y), tf.constant(y))
    expected = np.mean(_hand_gradients(w, x, y), axis=0)
    np.testing.assert_allclose(_flat(grad.numpy()), expected, atol=1e-5)
    assert np.abs(expected).max() > 1e-3 and logits.shape == (len(x), 3)
    counter.assign(0)
    model_fn = EOTModel(draw, 2, "logits")
    _, grad, _ = loss_and_gradient(model_fn, "ce")(tf.constant(x), tf.constant(y), tf.constant(y))
    np.testing.assert_allclose(grad.numpy(), 0.0, atol=1e-6)  # averaged logits cancel


@pytest.fixture(scope="module")
def random_served(tmp_path_factory):
    """An untrained random LeNet (RobustNet noise) saved as .keras and loaded as the served model."""
    import keras

    import zoo
    from eval.model import load
    keras.utils.set_random_seed(3)
    path = str(tmp_path_factory.mktemp("served") / "noisy.keras")
    zoo.create("lenet5", input_shape=SHAPE, num_classes=10, robustnet=True, sigma_init=0.1,
               sigma_inner=0.05).save(path)
    model = load(path)
    assert model.is_random
    return model


def test_attacks_trace_once_per_model_shape_and_attack(random_served):
    """Three batches of one shape, two trials, two CleverHans attacks (fgsm, pgd share compute_gradient)
    and APGD-CE: one trace each; ServedModel.model_fn returns one object per (mode, eot, eot_mode)."""
    from cleverhans.tf2.utils import compute_gradient
    model = random_served
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (12,) + SHAPE).astype(np.float32)
    y = rng.integers(0, 10, 12).astype(np.int64)
    assert model.model_fn("served", 2, "gradient") is model.model_fn("served", 2, "gradient")
    before = compute_gradient.experimental_get_tracing_count()
    for attack, params in (("fgsm", {}), ("pgd", {"steps": 2}), ("apgd_ce", {"steps": 3})):
        evaluate(model, x, y, attack, params, eot=2, trials=2, batch_size=4)
    assert compute_gradient.experimental_get_tracing_count() - before == 1
    step = loss_and_gradient(model.model_fn("served", 2, "gradient"), "ce")
    # early exit compacts batches (sizes 4, 3, ...): reduce_retracing relaxes the shape once
    assert 1 <= step.experimental_get_tracing_count() <= 2


# ---------------------------------------------------------------- AutoAttack and the worst case


class _Linear:
    """The parts of a ServedModel the robustness metrics use, around a linear model_fn."""

    name, noise = "linear", "on"

    def __init__(self, model_fn, is_random=False):
        self.fn, self.is_random = model_fn, is_random

    def model_fn(self, mode="served", eot=1, eot_mode="gradient"):
        key = (mode, eot, eot_mode)
        self.__dict__.setdefault("_fns", {})
        return self._fns.setdefault(key, EOTModel(self.fn, eot, eot_mode))

    def attack_mode(self, bpda=None):
        return "served"

    def predict(self, x, mode="served", batch_size=256):
        return np.argmax(self.fn(tf.constant(x)).numpy(), axis=1)


def test_autoattack_runs_each_attack_on_the_points_still_robust():
    """Half the images sit at 0.05 of the reach (APGD-CE fools them), half at 3x (nothing can): the
    cumulative accuracy goes 1 -> 0.5 and stays; rand is picked for a random model, with EOT 20."""
    w, x_easy, y_easy, _ = _two_class(margin_scale=0.05, n=4)
    _, x_hard, y_hard, _ = _two_class(margin_scale=3.0, n=4)
    x, y = np.concatenate([x_easy, x_hard]), np.concatenate([y_easy, y_hard])
    model = _Linear(_linear_model(w))
    out = autoattack(model, x, y, "auto", EPS, apgd_iterations=5, square_queries=50)
    assert out["version"] == "standard" and out["stages"] == ["clean", "apgd_ce", "apgd_t", "fab_t", "square"]
    assert out["accuracy"] == [1.0, 0.5, 0.5, 0.5, 0.5] and out["trials"] == 1 and out["eot"] == 1
    out = autoattack(_Linear(_linear_model(w), is_random=True), x, y, "auto", EPS, trials=2, apgd_iterations=3)
    assert out["version"] == "rand" and out["stages"] == ["clean", "apgd_ce", "apgd_dlr"] and out["eot"] == 20
    assert out["accuracy"] == [1.0, 0.5, 0.5] and out["std"] == [0.0, 0.0, 0.0]
    with pytest.raises(ZooError, match="autoattack_version"):
        autoattack(model, x, y, "fast", EPS)


def test_autoattack_l2_runs_the_l2_attacks_at_the_l2_budget():
    """The same plan in L2 (RobustBench's CIFAR-10 L2 budget 0.5): the easy images are within reach, the hard not."""
    from eval.metrics.robustness import autoattack_plan
    w, x_easy, y_easy, d = _two_class(margin_scale=0.05, n=4)
    _, x_hard, y_hard, _ = _two_class(margin_scale=3.0, n=4)
    x, y = np.concatenate([x_easy, x_hard]), np.concatenate([y_easy, y_hard])
    eps_l2 = float(EPS * np.abs(d).sum() / np.linalg.norm(d))  # the L2 distance of margin 1 x reach: same split
    out = autoattack(_Linear(_linear_model(w)), x, y, "standard", eps_l2, apgd_iterations=5, square_queries=50,
                     norm="l2")
    assert out["stages"] == ["clean", "apgd_ce_l2", "apgd_t_l2", "fab_t_l2", "square_l2"]
    assert out["accuracy"] == [1.0, 0.5, 0.5, 0.5, 0.5] and all(p["eps"] == eps_l2 for _, p in out["plan"])
    with pytest.raises(ZooError, match="autoattack norm 'l1'"):
        autoattack_plan("standard", 1.0, norm="l1")


def test_worst_case_counts_examples_no_attack_fooled_per_trial():
    clean = [np.array([1, 1, 1, 1], bool), np.array([1, 1, 1, 0], bool)]
    fgsm = [np.array([1, 0, 1, 1], bool), np.array([1, 1, 0, 0], bool)]
    pgd = [np.array([1, 1, 0, 1], bool), np.array([0, 1, 1, 0], bool)]
    acc, std, trials = worst_case([clean, fgsm, pgd])
    # trial 0: only examples 0 and 3 survive all (0.5); trial 1: only example 1 (0.25)
    assert (acc, std, trials) == (pytest.approx(0.375), pytest.approx(0.125), 2)
    # each attack alone: 0.75 / 0.5 and 0.75 / 0.5; the worst case is below every single attack
    assert acc < min(np.mean([c.mean() for c in fgsm]), np.mean([c.mean() for c in pgd]))
