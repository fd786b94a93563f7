"""The eval suite on small trained digits models: EOT, BPDA, served vs in-memory, reports, errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from eval import model as model_lib
from eval.metrics.robustness import evaluate
from zoo import data
from zoo.errors import ZooError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PGD = {"eps": 0.1, "step_size": 0.025, "steps": 10}


@pytest.fixture(scope="module")
def digits_test():
    return data.as_numpy("digits", "test", 128)


def test_metadata_drives_eot_and_bpda(digits_models):
    noisy = model_lib.load(digits_models["noisy"])
    plain = model_lib.load(digits_models["plain"])
    cd = model_lib.load(digits_models["color_depth"])
    assert noisy.is_random and not plain.is_random and not cd.is_random
    assert cd.attack_mode() == "bpda" and plain.attack_mode() == "served"
    x, y = data.as_numpy("digits", "test", 16)
    row = evaluate(noisy, x, y, "fgsm", {"eps": 0.1}, seed=0)
    assert row["trials"] == 5 and row["eot"] == 8 and row["std"] >= 0  # random: EOT and 5 trials by default
    row = evaluate(cd, x, y, "fgsm", {"eps": 0.1})
    assert row["trials"] == 1 and row["eot"] == 1 and row["bpda"] is True


def test_eot_pgd_beats_single_sample_pgd_on_a_random_model(digits_models, digits_test):
    model = model_lib.load(digits_models["noisy"])
    x, y = digits_test
    single = evaluate(model, x, y, "pgd", PGD, eot=1, trials=5, seed=0)
    eot = evaluate(model, x, y, "pgd", PGD, eot=16, trials=5, seed=0)
    clean = evaluate(model, x, y, "clean", trials=5, seed=0)
    assert clean["accuracy"] > 0.6
    assert eot["accuracy"] < single["accuracy"] - 2 * max(eot["std"], single["std"]), (single, eot)


def test_bpda_breaks_a_color_depth_defense_that_plain_pgd_does_not(digits_models, digits_test):
    model = model_lib.load(digits_models["color_depth"])
    x, y = digits_test
    clean = evaluate(model, x, y, "clean")
    strong = {"eps": 0.2, "step_size": 0.05, "steps": 20}  # 2 bits = 4 levels: rounding steps of 1/3
    plain = evaluate(model, x, y, "pgd", strong, bpda=False)
    bpda = evaluate(model, x, y, "pgd", strong, bpda=True)
    assert clean["accuracy"] > 0.6
    assert plain["accuracy"] > clean["accuracy"] - 0.15  # the rounding masks the gradient: PGD "fails"
    assert bpda["accuracy"] < 0.5 * plain["accuracy"], (plain, bpda)  # BPDA sees through it


def test_saved_model_and_keras_file_give_the_same_result(digits_models, digits_test):
    x, y = digits_test
    served = model_lib.load(digits_models["plain"])
    in_memory = model_lib.load(digits_models["plain_keras"])
    np.testing.assert_allclose(served.model_fn()(x).numpy(), in_memory.model_fn()(x).numpy(), atol=1e-4)
    a = evaluate(served, x, y, "pgd", PGD)
    b = evaluate(in_memory, x, y, "pgd", {**PGD, "random_start": False})
    c = evaluate(served, x, y, "pgd", {**PGD, "random_start": False})
    assert b["accuracy"] == c["accuracy"]
    assert abs(a["accuracy"] - c["accuracy"]) < 0.1


def test_bad_inputs_give_one_line_errors(tmp_path, digits_models):
    with pytest.raises(ZooError, match="is not a SavedModel directory"):
        model_lib.load(str(tmp_path))
    with pytest.raises(ZooError, match="no such directory"):
        model_lib.load(str(tmp_path / "missing"))
    with pytest.raises(ZooError, match=r"images range from -0.5 to 1: expected pixel values in \[0, 1\]"):
        model_lib.check_images(np.array([[[[-0.5]], [[1.0]]]]))


def _eval_cli(*flags):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "eval", *flags], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)


def test_cli_writes_json_markdown_and_plots(digits_models, tmp_path):
    report_dir = tmp_path / "report"
    done = _eval_cli(f"--model={digits_models['plain']}", f"--model={digits_models['pni']}", "--dataset=digits",
                     "--num_examples=48", "--suite=whitebox,transfer", "--attacks=fgsm,pgd,step_ll",
                     "--steps=3", "--steps_list=1,3", "--eps_list=0,8/255,25/255", "--eps=0.1", "--step_size=0.03",
                     "--trials=2", "--eot=2", f"--report_dir={report_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((report_dir / "report.json").read_text())
    rows = {(r["model"], r["attack"]) for r in report["results"]}
    assert {("plain", "clean"), ("plain", "fgsm"), ("pni", "pgd"), ("pni", "step_ll")} <= rows
    pni_rows = [r for r in report["results"] if r["model"] == "pni" and r["attack"] != "clean"]
    assert all(r["trials"] == 2 and r["eot"] == 2 for r in pni_rows)
    assert report["matrices"][0]["rows"] == ["plain", "pni"]
    markdown = (report_dir / "report.md").read_text()
    assert "| pgd" in markdown or "pgd" in markdown
    assert len(report["plots"]) >= 3 and all((report_dir / p).exists() for p in report["plots"])
    assert "report:" in done.stdout


@pytest.mark.parametrize("flags, message", [
    (["--model=/nonexistent/1"], "--model=/nonexistent/1: no such directory"),
    (["--model=exported_models", "--suite=gray"], "--suite=gray: expected one of"),
    (["--model=x", "--attacks=laser"], "--attacks=laser: unknown attack"),
    (["--model=x", "--eps=-0.1"], "--eps=-0.1: expected a value in [0, 1]"),
    (["--model=x", "--protocol=pni", "--eot=8"],
     "--protocol=pni fixes --eot=1; got --eot=8 (drop one of the two flags)"),
    (["--model=x", "--noise=sometimes"], "--noise"),
])
def test_cli_usage_errors(flags, message):
    done = _eval_cli(*flags)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"error: {message}" or message in done.stderr.strip().splitlines()[-1]


def test_cw_distortion_counts_only_successes_on_correctly_classified_examples(digits_models, digits_test):
    model = model_lib.load(digits_models["plain"])
    x, y = digits_test[0][:32], digits_test[1][:32]
    clean = evaluate(model, x, y, "clean")
    row = evaluate(model, x, y, "cw_l2", {"initial_const": 1.0, "learning_rate": 0.05, "binary_search_steps": 3,
                                          "max_iterations": 30})
    assert row["accuracy"] < clean["accuracy"] - 0.3
    assert 0.05 < row["l2_distortion"] < 3.0  # a real, non-zero L2 distortion (8x8 images in [0,1])
