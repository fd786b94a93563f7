"""The ANP / perturbation-study suites end to end on small digits models (the numbers are checked
in test_robustness_metrics.py; here: what reaches the report, and its sanity)."""
import numpy as np

from eval.runner import run
from eval.suites import EvalConfig


def test_boundary_insensitivity_analysis_and_saliency_reach_the_report(digits_models, tmp_path):
    config = EvalConfig(models=(digits_models["plain"], digits_models["pni"]), dataset="digits", num_examples=16,
                        suites=("boundary", "insensitivity", "analysis", "saliency"), report_dir=str(tmp_path),
                        boundary_examples=4, directions=4, insensitivity_eps=(0.05, 0.1), saliency_examples=4,
                        eps=0.1, step_size=0.03, steps=(3,))
    report, paths = run(config, verbose=False)
    wf = next(m for m in report["matrices"] if m["name"] == "worst_case_boundary_distance")
    assert wf["rows"] == ["plain", "pni"] and all(np.isfinite(r[0]) and r[0] > 0 for r in wf["values"])
    names = {c["name"] for c in report["curves"]}
    assert {"noise_insensitivity_fgsm", "noise_insensitivity_pgd", "hidden_insensitivity_pgd",
            "gradient_norm_natural_plain"} <= names
    hidden = next(c for c in report["curves"] if c["name"] == "hidden_insensitivity_pgd" and c["model"] == "plain")
    assert len(hidden["y"]) == 19 and all(v >= 0 for v in hidden["y"])  # ResNet-20: 19 ReLU layers
    m2 = [h for h in report["histograms"] if h["name"] == "M2_plain"]
    assert {h["series"] for h in m2} == {"natural", "adversarial"}
    grid = report["image_grids"][0]
    assert grid["row_labels"] == ["input", "plain", "pni"] and len(grid["images"][1]) == 4
    maps = np.array(grid["images"][1])
    assert maps.min() >= 0 and maps.max() <= 1 and maps.std() > 0
    assert len(paths["plots"]) >= 6


def test_corruption_and_perturbation_suites_score_the_baseline_100(digits_models, tmp_path):
    """Digits upsampled to 32x32x3 stand in for CIFAR: the plain model is the baseline (mCE = mFR = 100)."""
    import zoo
    from eval import model as model_lib
    from eval.metrics import corruption as cm
    from eval.suites import Context, corruption_suite, perturbation_suite
    from eval.report import Report
    import tensorflow as tf

    x, y = zoo.data.as_numpy("digits", "test", 24)
    x32 = tf.image.resize(tf.image.grayscale_to_rgb(tf.constant(x)), [32, 32]).numpy().clip(0, 1)

    class Upsampled:  # the 8x8 digits models, fed CIFAR-sized corrupted images
        def __init__(self, path, name):
            self.inner, self.name = model_lib.load(path), name
            self.is_random = self.inner.is_random

        def predict(self, images, mode="served", batch_size=256):
            small = tf.image.rgb_to_grayscale(tf.image.resize(tf.constant(images, tf.float32), [8, 8])).numpy()
            return self.inner.predict(small, mode, batch_size)

    models = [Upsampled(digits_models["plain"], "plain"), Upsampled(digits_models["pni"], "pni")]
    config = EvalConfig(models=(), num_examples=24, suites=("corruption", "perturbation_seq"),
                        cache_dir=str(tmp_path / "cache"), baseline_model="plain", sequence_examples=6)
    report = Report({})
    ctx = Context(config, models, x32, y, report, progress=lambda text: None)
    ctx.result = lambda model, attack, **kw: {"accuracy": float(np.mean(model.predict(x32) == y))}
    corruption_suite(ctx)
    perturbation_suite(ctx)
    data = report.to_dict()
    from eval.corruptions import BENCHMARK
    errors = next(m for m in data["matrices"] if m["name"] == "corruption_error" and m["model"] == "plain")
    assert len(errors["rows"]) == 19 and all(len(r) == 5 for r in errors["values"])
    # Which corruptions the baseline never gets wrong depends on the weights a short training reaches on
    # this CPU: those columns are undefined (0 / 0), left out and named; the rest must be there.
    base_errors = dict(zip(errors["rows"], errors["values"]))
    undefined = [n for n in BENCHMARK if sum(base_errors[n]) == 0]
    ce = next(m for m in data["matrices"] if m["name"] == "corruption_CE")
    assert ce["rows"] == ["plain", "pni"] and ce["cols"] == ([n for n in BENCHMARK if n not in undefined]
                                                          + (["mCE"] if len(undefined) < len(BENCHMARK) else []))
    assert all(name in ce["col_label"] for name in undefined)
    if len(undefined) < len(BENCHMARK):
        np.testing.assert_allclose(ce["values"][0], 100.0)  # the baseline scores 100 wherever CE is defined
        assert all(np.isfinite(v) and v >= 0 for v in ce["values"][1])
    rel = next(m for m in data["matrices"] if m["name"] == "corruption_relative_CE")
    assert all(np.isfinite(v) for row in rel["values"] for v in row)
    fr = next(m for m in data["matrices"] if m["name"] == "flip_rate")
    assert fr["cols"][-1] == "mFR"
    np.testing.assert_allclose(fr["values"][0], 100.0)  # the baseline's FR is 100 wherever it is defined
    assert cm.flip_probability(np.zeros((3, 31))) == 0.0


def test_boundary_suite_with_no_ray_crossing_the_boundary_records_unbroken_and_no_histogram():
    """A constant classifier: every ray keeps the prediction, every distance is inf (no empty histogram)."""
    import tensorflow as tf

    from eval.report import Report
    from eval.suites import SUITES, Context

    class Constant:
        name, is_random = "constant", False

        def model_fn(self, mode):
            return lambda x: tf.one_hot(tf.zeros(tf.shape(x)[0], tf.int32), 10)

    x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype("float32")
    report = Report({"models": {"constant": {}}})
    config = EvalConfig(models=("constant",), boundary_examples=3, directions=2)
    SUITES["boundary"](Context(config, [Constant()], x, np.zeros(3, np.int32), report, lambda text: None))
    data = report.to_dict()
    assert not [h for h in data["histograms"] if h["name"] == "boundary_distance"]
    wf = next(m for m in data["matrices"] if m["name"] == "worst_case_boundary_distance")
    assert wf["values"][0][2] == 3 and wf["values"][0][1] == 64.0  # three unbroken: W_f >= the search limit


def test_autoattack_suite_reports_each_stage_in_either_norm(digits_models, tmp_path):
    """The suite end to end on a served model: cumulative rows that never rise, the worst case equal to the
    last stage, the L2 plan at --eps_l2 (the numbers of the attacks are checked in test_apgd_square.py)."""
    for norm, eps, suffix in (("linf", 0.1, ""), ("l2", 0.5, "_l2")):
        config = EvalConfig(models=(digits_models["plain"],), dataset="digits", num_examples=8, suites=("autoattack",),
                            report_dir=str(tmp_path / norm), eps=eps if norm == "linf" else 0.1, eps_l2=eps,
                            autoattack_norm=norm, apgd_iterations=3, square_queries=20)
        report, _ = run(config, verbose=False)
        rows = [r for r in report["results"] if r["suite"] == "autoattack"]
        stages = [r["attack"] for r in rows]
        assert stages == ["clean"] + [f"autoattack:{a}{suffix}" for a in ("apgd_ce", "apgd_t", "fab_t", "square")] \
            + ["worst_case"]
        acc = [r["accuracy"] for r in rows]
        assert all(a >= b for a, b in zip(acc[:-2], acc[1:-1])) and acc[-1] == acc[-2]
        assert all(r["params"]["eps"] == eps for r in rows[1:])


def test_autoattack_suite_picks_its_version_and_gradient_from_the_export(digits_models, tmp_path):
    """``--suite=autoattack`` on the other kinds of zoo export, nothing set by hand: a random model (RobustNet
    noise) gets ``rand`` with EOT over AutoAttack's 20 draws and mean ± std over eval's 5 trials; a
    non-differentiable input channel (2-bit colour depth) gets ``standard`` through BPDA."""
    config = EvalConfig(models=(digits_models["noisy"], digits_models["color_depth"]), dataset="digits",
                        num_examples=8, suites=("autoattack",), report_dir=str(tmp_path), eps=0.1, apgd_iterations=2,
                        square_queries=10)
    report, _ = run(config, verbose=False)
    expected = {"noisy": ("rand", ["apgd_ce", "apgd_dlr"], 20, False),
                "color_depth": ("standard", ["apgd_ce", "apgd_t", "fab_t", "square"], 1, True)}
    for name, (version, stages, eot, bpda) in expected.items():
        rows = [r for r in report["results"] if r["suite"] == "autoattack" and r["model"] == name]
        assert [r["attack"] for r in rows] == ["clean"] + [f"autoattack:{s}" for s in stages] + ["worst_case"]
        assert rows[-1]["params"]["version"] == version and all(r["bpda"] is bpda for r in rows)
        assert all(r["eot"] == eot and r["trials"] == (5 if version == "rand" else 1) for r in rows[1:])
        acc = [r["accuracy"] for r in rows]
        assert all(a >= b for a, b in zip(acc[:-2], acc[1:-1])) and acc[-1] == acc[-2]
        assert all(np.isfinite(r["std"]) and r["std"] >= 0 for r in rows)


def test_the_worst_case_spans_both_attack_suites_of_a_run(digits_models, tmp_path):
    """With whitebox and autoattack in one run, the suite that runs second reports the worst case over the
    attacks of both (the examples no attack of the run fooled): never above either suite's own number."""
    for order in (("whitebox", "autoattack"), ("autoattack", "whitebox")):
        config = EvalConfig(models=(digits_models["plain"],), dataset="digits", num_examples=16, suites=order,
                            report_dir=str(tmp_path / order[0]), eps=0.05, step_size=0.02, attacks=("fgsm", "pgd"),
                            steps=(3,), steps_list=(3,), eps_list=(0.0, 0.05), apgd_iterations=3, square_queries=20)
        report, _ = run(config, verbose=False)
        rows = {(r["suite"], r["attack"]): r for r in report["results"]}
        pgd, fgsm = rows[("whitebox", "pgd")]["accuracy"], rows[("whitebox", "fgsm")]["accuracy"]
        final = rows[("autoattack", "autoattack:square")]["accuracy"]
        first, second = (rows[(suite, "worst_case")] for suite in order)
        assert second["accuracy"] <= min(pgd, fgsm, final, first["accuracy"])
        if order[0] == "whitebox":
            assert second["params"]["attacks"] == ["apgd_ce", "apgd_t", "fab_t", "square", "fgsm", "pgd-3"]
            assert first["params"]["attacks"] == ["fgsm", "pgd-3"]
        else:
            assert second["params"]["attacks"] == ["fgsm", "pgd-3", "autoattack-standard"]
            assert first["accuracy"] == final  # AutoAttack alone: its own robust accuracy
