"""eval.attacks: analytic optima on a linear classifier, budgets on a small conv net, C&W near the
minimal distortion, majority vote, partial-adaptive and transfer attacks, one-line usage errors."""
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from eval.attacks import ATTACKS, AttackSpec, get, list_attacks, majority_vote, run_attack
from eval.attacks.own import compiled_pgd
from zoo.errors import ZooError

EPS = 8.0 / 255.0
SHAPE = (8, 8, 1)
DIM = int(np.prod(SHAPE))


@pytest.fixture(scope="module")
def linear():
    """Two-class linear model logits = flatten(x) @ W; d = w_1 - w_0 has no small coordinates.

    Returns (model_fn, x in [0.2, 0.8], y = predicted labels, d).
    """
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 0.1, DIM)
    d = rng.choice([-1.0, 1.0], DIM) * rng.uniform(0.7, 1.0, DIM) * 0.1
    w = tf.constant(np.stack([base, base + d], axis=1).astype(np.float32))

    def model_fn(x):
        return tf.reshape(x, [tf.shape(x)[0], -1]) @ w

    x = rng.uniform(0.2, 0.8, size=(6,) + SHAPE).astype(np.float32)
    y = np.argmax(model_fn(x).numpy(), axis=1).astype(np.int32)
    assert 0 < y.sum() < len(y)  # both classes present
    return model_fn, x, y, d.astype(np.float32)


def _direction(d, y):
    """w_other - w_y per example: +d for label 0, -d for label 1."""
    return np.where(y[:, None] == 0, d[None, :], -d[None, :])


@pytest.fixture(scope="module")
def convnet():
    """A tiny random conv net on 8x8x3 images (3 channels exercises C&W's per-example constants)."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3)])

    def model_fn(x):
        return model(x, training=False)

    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 1.0, size=(4, 8, 8, 3)).astype(np.float32)
    x[0, :4] = 0.0  # pixels on the box faces: clipping must bind there
    x[1, :4] = 1.0
    y = np.array([0, 1, 2, 0], np.int32)
    return model_fn, x, y


def _flat(a):
    return np.asarray(a).reshape(len(a), -1)


# ---------------------------------------------------------------- registry


def test_registry_table_is_complete():
    expected = {"fgsm", "bim", "pgd", "pgd_l2", "mifgsm", "cw_l2", "spsa", "step_ll", "pgd_fast",
                "partial_adaptive", "partial_adaptive_unlimited", "partial_adaptive_pgd", "transfer",
                "apgd_ce", "apgd_dlr", "apgd_t", "square", "apgd_ce_l2", "apgd_dlr_l2", "apgd_t_l2", "square_l2",
                "pgd_exit", "fab_t", "fab_t_l2"}
    assert set(list_attacks()) == expected and list_attacks() == sorted(expected)
    for name, spec in ATTACKS.items():
        assert isinstance(spec, AttackSpec) and spec.name == name and get(name) is spec and spec.paper
    assert get("spsa").kind == "blackbox" and get("transfer").kind == "transfer"
    assert get("pgd_l2").norm == "l2" and get("pgd").norm == "linf"
    assert get("pgd").defaults == dict(eps=EPS, step_size=2 / 255, steps=7, random_start=True, start_radius=None)
    assert {k: v for k, v in get("pgd_fast").defaults.items() if k != "jit_compile"} == \
        {k: v for k, v in get("pgd").defaults.items() if k != "start_radius"}
    cw = get("cw_l2").defaults
    assert (cw["initial_const"], cw["learning_rate"], cw["binary_search_steps"], cw["max_iterations"],
            cw["confidence"]) == (0.01, 5e-4, 9, 10, 0.0)


# ---------------------------------------------------------------- analytic optima (linear model)


@pytest.mark.parametrize("name,overrides", [
    ("fgsm", {}),
    ("bim", {}),
    ("pgd", dict(steps=10)),
    ("pgd_fast", dict(steps=10)),
    ("mifgsm", {}),
    ("step_ll", {}),  # 2 classes, y = prediction: the least-likely class is the other one
])
def test_linf_attacks_reach_the_analytic_optimum(linear, name, overrides):
    model_fn, x, y, d = linear
    x_adv = run_attack(name, model_fn, x, y, **overrides)
    assert x_adv.dtype == tf.float32
    optimum = _flat(x) + EPS * np.sign(_direction(d, y))
    np.testing.assert_allclose(_flat(x_adv), optimum, atol=1e-5)


def test_pgd_l2_reaches_the_analytic_optimum(linear):
    model_fn, x, y, d = linear
    eps = 0.3
    x_adv = run_attack("pgd_l2", model_fn, x, y, eps=eps, step_size=eps, steps=30)  # random start, then converge
    direction = _direction(d, y)
    optimum = _flat(x) + eps * direction / np.linalg.norm(direction, axis=1, keepdims=True)
    np.testing.assert_allclose(_flat(x_adv), optimum, atol=1e-3)


def test_pgd_l2_random_start_is_inside_the_ball_per_example(linear):
    """CleverHans' L2 random init (steps=0 returns it): every example inside ||.||_2 <= eps, not at 0."""
    model_fn, x, y, _ = linear
    x_adv = run_attack("pgd_l2", model_fn, x, y, steps=0)
    norms = np.linalg.norm(_flat(x_adv) - _flat(x), axis=1)
    assert np.all(norms <= 0.5 * (1 + 1e-6)) and np.all(norms > 0.25)
    assert len(np.unique(np.round(norms, 6))) > 1  # drawn per example, not one radius for the batch


def test_pgd_fast_jit_matches_eager_optimum_and_reuses_its_trace(linear):
    model_fn, x, y, d = linear
    optimum = _flat(x) + EPS * np.sign(_direction(d, y))
    x_jit = run_attack("pgd_fast", model_fn, x, y, steps=5, random_start=False, jit_compile=True)
    np.testing.assert_allclose(_flat(x_jit), optimum, atol=1e-5)
    run_attack("pgd_fast", model_fn, x, y, eps=4 / 255, step_size=1 / 255, steps=5, random_start=False,
               jit_compile=True)  # another eps: a tensor argument, no retrace
    assert compiled_pgd(model_fn, 5, False, True).experimental_get_tracing_count() == 1


def test_pgd_fast_auto_times_both_keeps_the_faster_and_caches(linear, tmp_path, monkeypatch):
    from eval.attacks import own
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model_fn, x, y, d = linear
    big_x, big_y = np.repeat(x, 6, axis=0), np.repeat(y, 6)  # 36 images: timed (>= AUTO_JIT_MIN_BATCH)
    optimum = _flat(big_x) + EPS * np.sign(_direction(d, big_y))
    before = len(own.JIT_DECISIONS)
    x_adv = run_attack("pgd_fast", model_fn, big_x, big_y, steps=5, random_start=False)  # the default: auto
    np.testing.assert_allclose(_flat(x_adv), optimum, atol=1e-5)  # either choice reaches the optimum
    decision = own.JIT_DECISIONS[before]
    rates = decision["images_per_s"]
    assert decision["jit_compile"] is (rates["xla"] > rates["no_xla"]) and decision["why"].startswith("auto: XLA ")
    assert (tmp_path / "robustness_zoo" / "jit.json").exists()
    run_attack("pgd_fast", lambda z: model_fn(z), big_x, big_y, steps=5, random_start=False)  # a new model_fn
    assert own.JIT_DECISIONS[-1]["why"].endswith("(cached measurement)")
    run_attack("pgd_fast", lambda z: model_fn(z), x, y, steps=5, random_start=False)  # 6 images: not timed
    assert own.JIT_DECISIONS[-1] == {"attack": "pgd_linf", "steps": 5, "jit_compile": False,
                                     "why": "auto: a batch of 6 (< 32) is not timed"}
    with pytest.raises(ZooError, match=re.escape("attack pgd_fast jit_compile='yes': expected True, False or 'auto'")):
        run_attack("pgd_fast", model_fn, x, y, jit_compile="yes")


def test_eps_zero_returns_the_images(linear):
    model_fn, x, y, _ = linear
    np.testing.assert_array_equal(run_attack("pgd", model_fn, x, y, eps=0.0).numpy(), x)


# ---------------------------------------------------------------- budgets (conv model)

_FAST = {"spsa": dict(steps=2, spsa_samples=8), "partial_adaptive_pgd": dict(steps=5),
         "partial_adaptive": dict(max_iterations=5, binary_search_steps=2),
         "partial_adaptive_unlimited": dict(draws=2, max_iterations=5, binary_search_steps=2),
         "cw_l2": dict(batch_size=3),  # batch_size < N: the second (smaller) batch runs too
         **{n: dict(steps=5) for n in ("apgd_ce", "apgd_dlr", "apgd_t", "apgd_ce_l2", "apgd_dlr_l2", "apgd_t_l2")},
         "square": dict(n_queries=100, seed=0), "square_l2": dict(n_queries=100, seed=0),
         **{n: dict(steps=5, n_target_classes=2) for n in ("fab_t", "fab_t_l2")}, "pgd_exit": dict(steps=5)}


@pytest.mark.parametrize("name", [n for n in list_attacks() if n != "transfer"])
def test_every_attack_stays_in_budget_and_box(convnet, name):
    model_fn, x, y = convnet
    spec = get(name)
    x_adv = run_attack(name, model_fn, x, y, **_FAST.get(name, {}))
    adv = x_adv.numpy()
    assert adv.shape == x.shape and x_adv.dtype == tf.float32
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    delta = _flat(adv) - _flat(x)
    if spec.bounded:
        eps = spec.defaults["eps"]
        size = np.abs(delta).max(1) if spec.norm == "linf" else np.linalg.norm(delta, axis=1)
        assert np.all(size <= eps * (1 + 1e-5) + 1e-7), (name, size, eps)
        assert size.max() > 0.5 * eps or name.startswith("fab")  # and it does move (FAB: minimal perturbations)


# ---------------------------------------------------------------- SPSA (gradient-free)


def test_spsa_lowers_accuracy_where_the_margin_is_smaller_than_eps(linear):
    """Each image sits at a quarter of the largest logit change an eps-step can make (eps * ||d||_1) from the
    boundary of the linear model, so any perturbation even loosely aligned with d flips it: SPSA's
    estimated gradients must find one (clean accuracy 1 by construction, labels = predictions)."""
    model_fn, _, _, d = linear
    rng = np.random.default_rng(5)
    x0 = rng.uniform(0.3, 0.7, size=(8, DIM))
    target = np.where(np.arange(8) % 2 == 0, 1.0, -1.0) * 0.25 * EPS * np.abs(d).sum()  # logit_1 - logit_0
    x = (x0 - ((x0 @ d - target) / (d @ d))[:, None] * d[None]).reshape((8,) + SHAPE).astype(np.float32)
    assert 0.0 <= x.min() and x.max() <= 1.0
    y = np.argmax(model_fn(x).numpy(), axis=1).astype(np.int32)
    assert y.tolist() == [1, 0] * 4  # the margins have the signs built in
    tf.random.set_seed(0)
    x_adv = run_attack("spsa", model_fn, x, y).numpy()
    accuracy = float(np.mean(np.argmax(model_fn(x_adv).numpy(), axis=1) == y))
    assert np.abs(x_adv - x).max() <= EPS + 1e-6
    assert accuracy <= 0.25, f"SPSA accuracy {accuracy}: expected <= 0.25 (clean 1.0, margins 0.25 of eps * ||d||_1)"


# ---------------------------------------------------------------- C&W


def test_cw_l2_finds_near_minimal_l2_examples(linear):
    model_fn, x, y, d = linear
    logits = model_fn(x).numpy()
    minimal = np.abs(logits[:, 1] - logits[:, 0]) / np.linalg.norm(d)  # |margin| / ||w_y - w_other||_2
    x_adv = run_attack("cw_l2", model_fn, x, y, max_iterations=100, learning_rate=0.01, initial_const=1.0,
                       binary_search_steps=6, batch_size=4)
    success = np.argmax(model_fn(x_adv).numpy(), axis=1) != y
    dist = np.linalg.norm(_flat(x_adv) - _flat(x), axis=1)
    assert success.mean() >= 5 / 6
    assert np.all(dist[success] >= minimal[success] - 1e-4)  # cannot beat the optimum
    assert np.all(dist[success] <= 1.1 * minimal[success] + 2e-3)  # and lands close to it
    assert np.all(dist[~success] == 0.0)  # failures return the original image


def test_cw_l2_treats_labels_as_untargeted(linear):
    """CleverHans sets targeted = (y is not None); ours must move *away* from the true label."""
    model_fn, x, y, _ = linear
    x_adv = run_attack("cw_l2", model_fn, x, y, max_iterations=50, learning_rate=0.01, initial_const=1.0,
                       binary_search_steps=3)
    assert np.mean(np.argmax(model_fn(x_adv).numpy(), axis=1) != y) >= 5 / 6


# ---------------------------------------------------------------- majority vote


def test_majority_vote_picks_the_most_frequent_label():
    counter = tf.Variable(0)

    def model_fn(x):
        label = 1 if int(counter.numpy()) % 10 < 7 else 2  # class 1 on 7 of 10 calls, class 2 on 3
        counter.assign_add(1)
        return tf.tile(tf.one_hot([label], 4), [tf.shape(x)[0], 1])

    labels = majority_vote(model_fn, np.zeros((5,) + SHAPE, np.float32), n=10)
    assert int(counter.numpy()) == 10
    np.testing.assert_array_equal(np.asarray(labels), [1] * 5)


def test_majority_vote_breaks_ties_towards_the_smallest_label():
    counter = tf.Variable(0)

    def model_fn(x):
        label = 3 if int(counter.numpy()) % 2 == 0 else 1
        counter.assign_add(1)
        return tf.tile(tf.one_hot([label], 4), [tf.shape(x)[0], 1])

    np.testing.assert_array_equal(np.asarray(majority_vote(model_fn, np.zeros((2,) + SHAPE, np.float32), n=4)),
                                  [1, 1])


# ---------------------------------------------------------------- partial adaptive, transfer


def test_partial_adaptive_pgd_moves_along_the_optimum_within_eps(linear):
    model_fn, x, y, d = linear
    x_adv = run_attack("partial_adaptive_pgd", model_fn, x, y, seed=3).numpy()
    delta = _flat(x_adv) - _flat(x)
    assert np.abs(delta).max() <= EPS + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    agree = np.sign(delta) == np.sign(_direction(d, y))
    assert agree.mean() >= 0.9


class _Counting:
    """model_fn wrapper counting executed calls (tf.Variable: C&W runs the model inside a tf.function)
    and keeping the inputs of the first ``keep`` calls."""

    def __init__(self, model_fn, shape, keep=4):
        self.model_fn, self.keep = model_fn, keep
        self.calls = tf.Variable(0)
        self.inputs = tf.Variable(tf.zeros((keep,) + tuple(shape)))

    def __call__(self, x):
        index = tf.minimum(self.calls, self.keep - 1)
        self.inputs.scatter_nd_update([[index]], [tf.convert_to_tensor(x, tf.float32)])
        self.calls.assign_add(1)
        return self.model_fn(x)


def test_partial_adaptive_is_the_study_cw_through_one_laplace_draw():
    """Study sec. 3.4 / Table 1 row Laplace: C&W L2 (100 iterations, 5 binary-search steps, c0 0.01)
    through Laplace(0, 0.03), a single noise injection per pass; Fig. 11's variant takes many."""
    from eval.attacks.own import STUDY_CW
    assert STUDY_CW == dict(max_iterations=100, binary_search_steps=5, initial_const=0.01, learning_rate=5e-3,
                            confidence=0.0, abort_early=True)
    single, many = get("partial_adaptive"), get("partial_adaptive_unlimited")
    assert {k: single.defaults[k] for k in STUDY_CW} == STUDY_CW and single.defaults["draws"] == 1
    assert single.defaults["b"] == 0.03 and not single.bounded and single.norm == "l2"
    assert many.defaults["draws"] > 1 and {k: many.defaults[k] for k in STUDY_CW} == STUDY_CW
    assert get("partial_adaptive_pgd").bounded and get("partial_adaptive_pgd").defaults["draws"] == 1


@pytest.mark.parametrize("name,draws", [("partial_adaptive", 1), ("partial_adaptive_unlimited", 3)])
def test_partial_adaptive_makes_draws_model_calls_per_step(linear, name, draws):
    """One C&W gradient step = ``draws`` model calls on fresh Laplace draws: 2 binary-search steps x 3
    iterations (no early abort) are 6 steps, plus CleverHans' one forward pass for the class count
    (``get_or_guess_labels``): 7 x draws calls. The first call sees x + Laplace(0, 0.03), whose mean
    |noise| is b = 0.03, and no two calls see the same draw."""
    model_fn, x, y, _ = linear
    counting = _Counting(model_fn, x.shape)
    x_adv = run_attack(name, counting, x, y, draws=draws, max_iterations=3, binary_search_steps=2,
                       abort_early=False, seed=1).numpy()
    calls = int(counting.calls.numpy())
    assert calls == (1 + 6) * draws, f"model calls {calls}: expected (1 + 6 steps) x {draws} draws"
    seen = counting.inputs.numpy()
    noise = seen[0] - x  # the class-count pass on x itself
    assert 0.8 * 0.03 < np.abs(noise).mean() < 1.2 * 0.03, np.abs(noise).mean()
    assert all(not np.allclose(seen[i], seen[j]) for i in range(4) for j in range(i))
    assert 0.0 <= x_adv.min() and x_adv.max() <= 1.0


def test_partial_adaptive_pgd_takes_one_draw_per_step_and_stays_in_budget(linear):
    model_fn, x, y, _ = linear
    counting = _Counting(model_fn, x.shape)
    x_adv = run_attack("partial_adaptive_pgd", counting, x, y, steps=5, seed=2).numpy()
    assert int(counting.calls.numpy()) == 5  # 5 PGD steps, one Laplace draw and one gradient each
    assert np.abs(x_adv - x).max() <= EPS + 1e-6 and x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_partial_adaptive_rejects_zero_draws(linear):
    model_fn, x, y, _ = linear
    with pytest.raises(ZooError, match="draws=0: expected an integer >= 1"):
        run_attack("partial_adaptive_pgd", model_fn, x, y, draws=0)


def test_transfer_returns_the_source_attack_output(linear, convnet):
    source_fn, x, y, _ = linear
    target_fn = convnet[0]
    x_adv = run_attack("transfer", target_fn, x, y, source_fn=source_fn, source_attack="fgsm",
                       source_params=dict(eps=4 / 255))
    np.testing.assert_array_equal(x_adv.numpy(), run_attack("fgsm", source_fn, x, y, eps=4 / 255).numpy())
    assert not np.array_equal(x_adv.numpy(), x)


def test_transfer_needs_a_source(linear):
    model_fn, x, y, _ = linear
    with pytest.raises(ZooError, match="source_fn"):
        run_attack("transfer", model_fn, x, y)
    with pytest.raises(ZooError, match="source_attack='transfer'"):
        run_attack("transfer", model_fn, x, y, source_fn=model_fn, source_attack="transfer")


# ---------------------------------------------------------------- errors


def _one_line(err):
    message = str(err.value)
    assert "\n" not in message
    return message


def test_unknown_attack_lists_the_attacks(linear):
    model_fn, x, y, _ = linear
    with pytest.raises(ZooError) as err:
        run_attack("nope", model_fn, x, y)
    message = _one_line(err)
    assert "'nope'" in message and all(name in message for name in list_attacks())


def test_negative_eps_is_named(linear):
    model_fn, x, y, _ = linear
    with pytest.raises(ZooError) as err:
        run_attack("pgd", model_fn, x, y, eps=-0.1)
    assert _one_line(err) == "attack pgd eps=-0.1: expected a value >= 0"


def test_unknown_parameter_is_named_with_the_accepted_ones(linear):
    model_fn, x, y, _ = linear
    with pytest.raises(ZooError) as err:
        run_attack("pgd", model_fn, x, y, epsilon=0.1)
    message = _one_line(err)
    assert "'epsilon'" in message and all(key in message for key in get("pgd").defaults)


def test_step_larger_than_budget_is_rejected(linear):
    model_fn, x, y, _ = linear
    with pytest.raises(ZooError) as err:
        run_attack("bim", model_fn, x, y, eps=1 / 255)
    assert "step_size" in _one_line(err)


def test_images_outside_the_unit_box_name_the_range(linear):
    model_fn, x, y, _ = linear
    with pytest.raises(ZooError) as err:
        run_attack("fgsm", model_fn, x * 255.0, y)
    message = _one_line(err)
    assert f"{x.min() * 255:.3g}" in message and f"{x.max() * 255:.3g}" in message and "[0, 1]" in message


def test_labels_must_match_the_images(linear):
    model_fn, x, y, _ = linear
    with pytest.raises(ZooError) as err:
        run_attack("fgsm", model_fn, x, y[:2])
    assert "labels of shape (2,)" in _one_line(err)
