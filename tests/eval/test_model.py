"""eval.model on tiny untrained exports (properties that hold by construction, on any CPU):
serve_deterministic_bpda, its fallback for older exports, the noise-off view and its report rows,
and the suites of the deterministic network keeping BPDA."""
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import data
from eval import model as model_lib
from eval.attacks import run_attack
from eval.cli import print_table
from eval.runner import run
from eval.metrics.robustness import evaluate
from eval.suites import EvalConfig
from zoo.errors import ZooError


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Untrained LeNet-5s on 8x8x1 digits: one with strong RobustNet noise, one behind a ColorDepth channel."""
    root = str(tmp_path_factory.mktemp("tiny_exports"))
    keras_seed = 3
    import keras
    keras.utils.set_random_seed(keras_seed)
    noisy = zoo.create("lenet5", input_shape=(8, 8, 1), robustnet=True, sigma_init=0.5, sigma_inner=0.3)
    cd = zoo.create("lenet5", input_shape=(8, 8, 1), channel="color_depth:bits=5")
    return {"noisy": zoo.export(noisy, root, name="noisy"), "cd": zoo.export(cd, root, name="cd"), "root": root}


@pytest.fixture(scope="module")
def digits():
    return data.as_numpy("digits", "test", 16)


def _input_gradient(fn, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(fn(x)[:, 0])
    return tape.gradient(loss, x).numpy()


def test_deterministic_bpda_passes_gradients_through_color_depth_where_deterministic_does_not(exports, digits):
    model = model_lib.load(exports["cd"])
    assert not model.is_differentiable and model.deterministic_mode() == "deterministic_bpda"
    assert model.deterministic_mode(bpda=False) == "deterministic" and model.noise_off().attack_mode() == \
        "deterministic_bpda"
    x = digits[0]
    assert np.abs(_input_gradient(model.model_fn("deterministic"), x)).max() == 0.0  # rounding masks it
    assert np.abs(_input_gradient(model.model_fn("deterministic_bpda"), x)).max() > 0.0
    np.testing.assert_allclose(model.model_fn("deterministic_bpda")(x).numpy(),
                               model.model_fn("deterministic")(x).numpy(), atol=1e-4)  # same forward pass
    noisy = model_lib.load(exports["noisy"])
    assert noisy.is_differentiable and noisy.deterministic_mode() == "deterministic"


def test_an_export_without_the_new_signature_falls_back_or_says_why(exports, digits, tmp_path):
    x = digits[0]
    model = model_lib.load(exports["cd"])
    want_logits = model.model_fn("deterministic_bpda")(x).numpy()
    want_grad = _input_gradient(model.model_fn("deterministic_bpda"), x)
    del model._signatures["deterministic_bpda"]  # as an export made before the signature existed
    np.testing.assert_allclose(model.model_fn("deterministic_bpda")(x).numpy(), want_logits, atol=1e-5)
    np.testing.assert_allclose(_input_gradient(model.model_fn("deterministic_bpda"), x), want_grad, atol=1e-5)

    old = tmp_path / "old"
    shutil.copytree(exports["cd"], old)
    os.remove(old / "assets.extra" / "model.keras")
    model = model_lib.load(str(old))
    del model._signatures["deterministic_bpda"]
    with pytest.raises(ZooError, match=r"has no serve_deterministic_bpda signature .* re-export it") as err:
        model.model_fn("deterministic_bpda")(x)
    assert "\n" not in str(err.value)

    noisy = model_lib.load(exports["noisy"])
    del noisy._signatures["deterministic_bpda"]  # differentiable: serve_deterministic is the same function
    np.testing.assert_array_equal(noisy.model_fn("deterministic_bpda")(x).numpy(),
                                  noisy.model_fn("deterministic")(x).numpy())
    del noisy._signatures["deterministic"]
    with pytest.raises(ZooError, match="has no serve_deterministic signature"):
        noisy.model_fn("deterministic")(x)


def test_noise_off_rows_are_the_deterministic_signature_with_std_zero(exports, digits):
    x, y = digits
    model = model_lib.load(exports["noisy"])
    served = model.model_fn("served")
    assert model.is_random and np.abs(served(x).numpy() - served(x).numpy()).max() > 1e-6  # really noisy
    loaded = tf.saved_model.load(exports["noisy"])  # kept alive: signatures reference its variables
    raw = loaded.signatures["serve_deterministic"]

    def det(images):
        return raw(images=images)["logits"]

    view = model.noise_off()
    assert view.name == "noisy (noise off)" and not view.is_random and view.noise == "off"
    clean = evaluate(view, x, y, "clean", trials=3)
    assert clean["std"] == 0.0 and clean["noise"] == "off" and clean["trials"] == 3
    assert clean["accuracy"] == float(np.mean(np.argmax(det(x).numpy(), 1) == y))
    fgsm = evaluate(view, x, y, "fgsm", {"eps": 0.1}, trials=3)
    x_adv = run_attack("fgsm", det, x, y.astype(np.int32), eps=0.1).numpy()
    assert fgsm["std"] == 0.0 and fgsm["eot"] == 1 and fgsm["bpda"] is False
    assert fgsm["accuracy"] == float(np.mean(np.argmax(det(x_adv).numpy(), 1) == y))
    row = evaluate(model, x, y, "fgsm", {"eps": 0.1}, trials=2, eot=2)
    assert row["noise"] == "on" and row["eot"] == 2 and row["eot_mode"] == "gradient"
    cd = model_lib.load(exports["cd"]).noise_off()
    assert evaluate(cd, x, y, "fgsm", {"eps": 0.1})["bpda"] is True  # noise off keeps BPDA


def test_random_only_gives_noise_off_rows_one_trial_without_eot(exports, tmp_path):
    # the leaderboard's protocol: --trials / --eot are for the random rows; the noise-off view is deterministic
    def rows(random_only):
        config = EvalConfig(models=(exports["noisy"],), dataset="digits", num_examples=16, suites=("whitebox",),
                            report_dir=str(tmp_path / str(random_only)), noise="both", attacks=("fgsm",),
                            steps=(2,), steps_list=(2,), eps_list=(0.1,), eps=0.1, step_size=0.05, trials=2, eot=2,
                            random_only=random_only)
        report, _ = run(config, verbose=False)
        return {(r["model"], r["attack"]): r for r in report["results"] if r["suite"] == "whitebox"}

    shared, only = rows(False), rows(True)
    for attack in ("fgsm", "pgd"):
        assert (shared["noisy (noise off)", attack]["trials"], shared["noisy (noise off)", attack]["eot"]) == (2, 2)
        assert (only["noisy (noise off)", attack]["trials"], only["noisy (noise off)", attack]["eot"]) == (1, 1)
        assert (only["noisy", attack]["trials"], only["noisy", attack]["eot"]) == (2, 2)  # random rows unchanged
    # the same deterministic FGSM either way: EOT over identical passes and repeated trials change nothing
    assert only["noisy (noise off)", "fgsm"]["accuracy"] == shared["noisy (noise off)", "fgsm"]["accuracy"]


def test_noise_both_reports_own_rows_in_json_markdown_and_the_cli_table(exports, tmp_path, capsys):
    config = EvalConfig(models=(exports["noisy"], exports["cd"]), dataset="digits", num_examples=16,
                        suites=("whitebox", "transfer"), report_dir=str(tmp_path), noise="both", attacks=("fgsm",),
                        steps=(2,), steps_list=(2,), eps_list=(0.0, 0.1), eps=0.1, step_size=0.05, trials=2)
    report, paths = run(config, verbose=False)
    models = {(r["model"], r.get("noise")) for r in report["results"]}
    assert models == {("noisy", "on"), ("noisy (noise off)", "off"), ("cd", "on")}  # cd has no noise: one set
    off = [r for r in report["results"] if r["model"] == "noisy (noise off)"]
    assert {r["attack"] for r in off} == {"clean", "fgsm", "pgd", "worst_case"} and all(r["eot"] == 1 for r in off)
    assert all(r["std"] == 0.0 for r in off if r["attack"] in ("clean", "fgsm"))  # deterministic (PGD: random start)
    for name in ("noisy", "noisy (noise off)", "cd"):  # per trial, no attack can leave more examples correct
        rows = {r["attack"]: r for r in report["results"] if r["model"] == name and r["suite"] == "whitebox"
                and r["params"].get("eps", 0.1) == 0.1}
        assert rows["worst_case"]["accuracy"] <= min(r["accuracy"] for a, r in rows.items() if a != "worst_case") + 1e-9
    on = [r for r in report["results"] if r["model"] == "noisy" and r["attack"] != "clean"]
    assert all(r["eot"] == 8 and r["eot_mode"] == "gradient" for r in on)
    matrix = report["matrices"][0]
    assert matrix["rows"] == ["noisy", "noisy (noise off)", "cd"] == matrix["cols"]
    markdown = open(paths["markdown"]).read()
    assert "### noisy (noise off)" in markdown and "| Noise |" in markdown
    print_table(report)
    table = capsys.readouterr().out
    line = next(ln for ln in table.splitlines() if ln.startswith("noisy (noise off)") and " fgsm" in ln)
    assert line.split()[3] == "off", line


def test_deterministic_suites_keep_bpda_and_use_the_configured_subsets(exports, tmp_path, monkeypatch):
    from eval.metrics import analysis
    seen = {}
    original = analysis.gradient_norms_under_noise

    def spy(fn, x, *args, **kwargs):
        seen["gradient_norm_examples"] = len(x)
        return original(fn, x, *args, **kwargs)

    monkeypatch.setattr(analysis, "gradient_norms_under_noise", spy)
    config = EvalConfig(models=(exports["cd"],), dataset="digits", num_examples=16,
                        suites=("insensitivity", "analysis"), report_dir=str(tmp_path),
                        insensitivity_eps=(16 / 255,), insensitivity_examples=4, analysis_examples=5,
                        gradient_norm_examples=3, steps=(2,), eps=0.1, step_size=0.05)
    report, _ = run(config, verbose=False)
    fgsm = next(c for c in report["curves"] if c["name"] == "noise_insensitivity_fgsm")
    # 32 colour levels 1/31 apart: a step of 16/255 crosses one in every pixel it moves, so with BPDA the loss changes;
    # through the masked gradient FGSM would not move at all (I_f = 0).
    assert fgsm["y"][0] > 0, fgsm
    m1 = {h["series"]: h["values"] for h in report["histograms"] if h["name"] == "M1_cd"}
    assert len(m1["natural"]) == 5 and min(m1["natural"]) > 0  # gradients through the rounding (BPDA)
    assert seen["gradient_norm_examples"] == 3
