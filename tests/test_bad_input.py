"""Bad input, measured (issue 10, item 1): every case ends in one line naming the value, what was expected and
what exists; command lines exit with status 2 within seconds; nothing that existed is changed.

Command-line cases run in subprocesses: a few as real ``python -m ...`` runs (exit status, time), the rest
through the CLIs' own ``prepare(argv)`` in one subprocess per CLI (one TensorFlow import for many cases: the
trainers' and eval's absl flags cannot both live in the test process). Library cases (``zoo.create``,
``zoo.export``, loading, the exported signatures, ``run_attack``) run in process.
``BAD_INPUT_TABLE=path pytest tests/test_bad_input.py`` writes the measured table (BUILD.md, Reliability).
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.errors import ZooError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
TRAIN_OK = ["--model=lenet5", "--dataset=digits", "--epochs=1", "--batch_size=32", "--num_train_examples=64"]
RESULTS = {}  # case id -> (surface, input, message, exit status, seconds): the measured table


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good export, damaged copies of it, a blocking file and a flagfile with a stray line."""
    root = tmp_path_factory.mktemp("bad_input")
    model = zoo.create("lenet5", input_shape=(32, 32, 3))
    good = zoo.export(model, str(root / "exported"), name="lenet")
    paths = {"root": str(root), "good": good, "model": model}
    for kind in ("truncated", "empty", "no_variables"):
        copy = str(root / kind / "1")
        shutil.copytree(good, copy)
        paths[kind] = copy
    pb = os.path.join(paths["truncated"], "saved_model.pb")
    data = open(pb, "rb").read()
    open(pb, "wb").write(data[:len(data) // 3])
    open(os.path.join(paths["empty"], "saved_model.pb"), "wb").close()
    shutil.rmtree(os.path.join(paths["no_variables"], "variables"))
    paths["corrupt_keras"] = str(root / "corrupt.keras")
    open(paths["corrupt_keras"], "wb").write(b"PK\x03\x04 this is not a whole zip")
    paths["bad_meta"] = str(root / "bad_meta" / "1")
    shutil.copytree(good, paths["bad_meta"])
    open(os.path.join(paths["bad_meta"], "assets.extra", "zoo_metadata.json"), "w").write("{truncated")
    paths["blocker"] = str(root / "a_file")
    open(paths["blocker"], "w").write("keep me")
    paths["bad_cfg"] = str(root / "bad.cfg")
    open(paths["bad_cfg"], "w").write("--model=lenet5\n# a comment\nconfigs/vanilla_resnet20_cifar10_smoke.cfg\n")
    return paths


# ---------------------------------------------------------------- command lines (subprocesses)

def _real_cli_cases(f):
    tmp = f["root"]
    return {
        "train-positional-config": (["trainers.vanilla", "configs/vanilla_resnet20_cifar10_smoke.cfg"],
                                    "unexpected argument 'configs/vanilla_resnet20_cifar10_smoke.cfg'"),
        "train-export-dir-under-file": (["trainers.pni", *TRAIN_OK, f"--run_dir={tmp}/runs_x",
                                         f"--export_dir={f['blocker']}/sub"], "--export_dir="),
        "eval-truncated-saved-model": (["eval", f"--model={f['truncated']}", "--dataset=digits",
                                        f"--report_dir={tmp}/rep_t"], "a damaged saved_model.pb"),
        "eval-report-dir-under-file": (["eval", f"--model={f['good']}", "--dataset=digits",
                                        f"--report_dir={f['blocker']}/rep"], "--report_dir="),
    }


TRAIN_BATCH = {  # through trainers.cli.prepare in one subprocess
    "train-flagfile-stray-line": (["--flagfile={bad_cfg}"],
                                  "bad.cfg:3: 'configs/vanilla_resnet20_cifar10_smoke.cfg' is not a flag"),
    "train-lr-decay-negative": (["--lr_decay=-1"], "--lr_decay=-1.0: expected a multiplier > 0"),
    "train-eps-5": (["--eps=5"], "--eps=5.0: expected a value in [0, 1]"),
    "train-lr-decay-0": (["--lr_decay=0"], "--lr_decay=0.0: expected a multiplier > 0"),
    "train-export-name-slash": (["--export_name=a/b"], "--export_name=a/b: expected letters, digits"),
    "train-run-dir-under-file": (["--run_dir={blocker}/runs"], "--run_dir={blocker}/runs: expected a directory"),
    "train-eat-holdout-missing": (["--eat_holdout=/nonexistent/1"], "--eat_holdout (entry 1)=/nonexistent/1"),
    "train-batch-size-0": (["--batch_size=0"], "--batch_size=0: expected an integer >= 1"),
    "train-epochs-not-int": (["--epochs=abc"], "flag --epochs=abc"),
    "train-missing-flagfile": (["--flagfile=/nonexistent.cfg"], "--flagfile=/nonexistent.cfg: no such file"),
    "train-lr-boundaries-words": (["--lr_boundaries=a,b"], "--lr_boundaries=a,b: expected comma-separated integers"),
    "train-momentum-1": (["--momentum=1"], "--momentum=1.0: expected a value in [0, 1)"),
    "train-unknown-model": (["--model=resnet21"], "--model=resnet21: expected one of alexnet"),
    "train-step-size-0": (["--step_size=0"], "--step_size=0.0: expected a value in (0, 1]"),
    "train-attack-bn-unknown": (["--attack_bn=batch"], "flag --attack_bn=batch: value should be one of <eval|train>"),
    "train-width-0": (["--width=0"], "--width=0.0: expected a multiplier > 0"),
}

EVAL_BATCH = {  # through eval.cli.prepare in one subprocess
    "eval-eps-2": (["--eps=2"], "--eps=2.0: expected a value in [0, 1]"),
    "eval-steps-0": (["--steps=0"], "--steps=0: expected step counts >= 1"),
    "eval-trials-0": (["--trials=0"], "--trials=0: expected an integer >= 1"),
    "eval-eot-negative": (["--eot=-1"], "--eot=-1: expected an integer >= 1"),
    "eval-no-model": (["--model="], "--model=: no such directory"),
    "eval-missing-model": (["--model=/nonexistent/1"], "--model=/nonexistent/1: no such directory (expected"),
    "eval-unknown-suite": (["--suite=bogus"], "--suite=bogus: expected one of"),
    "eval-unknown-attack": (["--attacks=bogus"], "--attacks=bogus: unknown attack; expected one of"),
    "eval-num-examples-0": (["--num_examples=0"], "--num_examples=0: expected an integer >= 1"),
    "eval-batch-size-0": (["--batch_size=0"], "--batch_size=0: expected an integer >= 1"),
    "eval-eps-list-words": (["--eps_list=a"], "--eps_list=a: expected a pixel-scale number"),
    "eval-eps-list-300": (["--eps_list=300"], "--eps_list=300: expected a value in [0, 1]"),
    "eval-positional": (["reports/x"], "unexpected argument 'reports/x'"),
}

_BATCH_SCRIPT = textwrap.dedent("""
    import contextlib, io, json, sys, time
    sys.path.insert(0, {root!r})
    from absl import flags
    from zoo.errors import ZooError
    which, cases, base = {which!r}, json.loads(sys.argv[1]), json.loads(sys.argv[2])
    if which == "train":
        from trainers import cli as train_cli
        prepare = lambda argv: train_cli.prepare("eat" if any("eat_holdout" in a for a in argv) else "vanilla", argv)
    else:
        from eval import cli
        prepare = cli.prepare
    out = {{}}
    for case, argv in cases.items():
        flags.FLAGS.unparse_flags()
        err, start, code = io.StringIO(), time.time(), 0
        with contextlib.redirect_stderr(err):
            try:
                prepare(["prog", *base, *argv])
            except SystemExit as e:
                code = e.code
            except ZooError as e:
                print(f"error: {{e}}", file=sys.stderr)
                code = 2
        out[case] = [err.getvalue(), code, time.time() - start]
    print(json.dumps(out))
""")


def _run(args):
    start = time.time()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=300)
    return done.stderr, done.returncode, time.time() - start, done.stdout


@pytest.fixture(scope="module")
def cli_results(files):
    fill = lambda argv: [a.format(blocker=files["blocker"], bad_cfg=files["bad_cfg"]) for a in argv]  # noqa: E731
    train_base = [*TRAIN_OK, f"--run_dir={files['root']}/runs", f"--export_dir={files['root']}/exp"]
    eval_base = [f"--model={files['good']}", f"--report_dir={files['root']}/reports"]
    batches = {
        "train": ({k: fill(v[0]) for k, v in TRAIN_BATCH.items()}, train_base),
        "eval": ({k: fill(v[0]) for k, v in EVAL_BATCH.items()}, eval_base),
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        real = {k: pool.submit(_run, ["-m", *args]) for k, (args, _) in _real_cli_cases(files).items()}
        batch = {w: pool.submit(_run, ["-c", _BATCH_SCRIPT.format(root=ROOT, which=w), json.dumps(cases),
                                       json.dumps(base)]) for w, (cases, base) in batches.items()}
        out = {k: fut.result() for k, fut in real.items()}
        for which, fut in batch.items():
            stderr, code, _, stdout = fut.result()
            assert code == 0, stderr[-3000:]
            out.update({k: (v[0], v[1], v[2], "") for k, v in json.loads(stdout.strip().splitlines()[-1]).items()})
    return out


def _error_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ") or line.startswith("FATAL Flags parsing error")]
    return lines, errors


CLI_IDS = ["train-positional-config", "train-export-dir-under-file", "eval-truncated-saved-model",
           "eval-report-dir-under-file", *TRAIN_BATCH, *EVAL_BATCH]


@pytest.mark.parametrize("case", CLI_IDS)
def test_command_line_bad_input(case, cli_results, files):
    stderr, code, seconds, _ = cli_results[case]
    expected = {**{k: v[1] for k, v in _real_cli_cases(files).items()}, **{k: v[1] for k, v in TRAIN_BATCH.items()},
                **{k: v[1] for k, v in EVAL_BATCH.items()}}[case].format(blocker=files["blocker"], bad_cfg=files["bad_cfg"])
    lines, errors = _error_line(stderr)
    assert code == 2, stderr[-2000:]
    assert len(errors) == 1 and expected in errors[0], stderr[-2000:]
    assert errors[0] == lines[-1]  # the last thing printed, one line
    assert seconds < 60  # seconds, not a training run (typically 5-8 s, mostly the TensorFlow import)
    surface = "python -m trainers.*" if case.startswith("train") else "python -m eval"
    how = "process" if case in _real_cli_cases(files) else "prepare(argv)"
    RESULTS[case] = (f"{surface} ({how})", errors[0][len("error: "):], code, seconds)


def test_command_lines_left_everything_as_it_was(cli_results, files):
    assert open(files["blocker"]).read() == "keep me"  # the file in the way of --export_dir/--report_dir
    assert not os.path.exists(os.path.join(files["root"], "runs_x", "pni_lenet5", "backup"))  # no training
    assert not os.path.exists(os.path.join(files["root"], "exp"))
    assert not os.path.exists(os.path.join(files["root"], "rep_t", "report.json"))
    assert sorted(os.listdir(os.path.dirname(files["good"]))) == [".export.lock", "1"]


# ---------------------------------------------------------------- libraries (in process)

def _zoo_create_cases():
    return {
        "create-num-classes-2.7": (lambda: zoo.create("resnet20", num_classes=2.7),
                                   "num_classes=2.7: expected an integer >= 2"),
        "create-depth-3": (lambda: zoo.create("resnet20", depth=3),
                           "depth=3 for model 'resnet20': its depth is 20 (fixed by the name); expected one of the "
                           "registered models resnet20, resnet32"),
        "create-unknown-model": (lambda: zoo.create("resnet21"), "unknown model 'resnet21': expected one of"),
        "create-width-0": (lambda: zoo.create("resnet20", width=0), "width=0: expected a multiplier > 0"),
        "create-input-shape-2d": (lambda: zoo.create("lenet5", input_shape=(32, 32)),
                                  "input_shape=(32, 32): expected (height, width, channels)"),
        "create-unknown-option": (lambda: zoo.create("lenet5", dropout=0.5), "'dropout': expected one of"),
    }


def _export_cases(f):
    model, root = f["model"], os.path.join(f["root"], "exported")

    def nan_model():
        m = zoo.create("lenet5", input_shape=(8, 8, 1))
        m.get_layer("fc").kernel.assign(np.full(m.get_layer("fc").kernel.shape, np.nan, "float32"))
        return zoo.export(m, root, name="nan_model")

    from eval import model as model_lib
    return {
        "export-name-slash": (lambda: zoo.export(model, root, name="a/b"), "export name 'a/b': expected letters"),
        "export-version-0": (lambda: zoo.export(model, root, name="lenet", version=0),
                             "export version 0: expected an integer >= 1"),
        "export-version-exists": (lambda: zoo.export(model, root, name="lenet", version=1),
                                  "export version 1 already exists in"),
        "export-dir-under-file": (lambda: zoo.export(model, f["blocker"] + "/x", name="m"),
                                  "cannot be created (Not a directory)"),
        "export-nan-weights": (nan_model, "has 1 weights with NaN or Inf (first: fc/kernel): expected finite"),
        "load-truncated-pb": (lambda: model_lib.load(f["truncated"]), "a damaged saved_model.pb"),
        "load-empty-pb": (lambda: model_lib.load(f["empty"]), "a damaged saved_model.pb (0 bytes"),
        "load-no-variables": (lambda: model_lib.load(f["no_variables"]), "no variables/variables.index: expected a "
                                                                          "complete SavedModel"),
        "load-corrupt-keras": (lambda: model_lib.load(f["corrupt_keras"]), "not a .keras file (28 bytes, not a zip"),
        "load-corrupt-metadata": (lambda: model_lib.load(f["bad_meta"]), "unreadable metadata"),
        "load-not-a-saved-model": (lambda: model_lib.load(f["root"]), "is not a SavedModel directory"),
    }


@pytest.mark.parametrize("case", [*_zoo_create_cases(), *_export_cases({"model": None, "root": "", "blocker": ""})])
def test_library_bad_input(case, files):
    fn, expected = {**_zoo_create_cases(), **_export_cases(files)}[case]
    before = {p: os.path.getmtime(p) for p in (os.path.join(files["good"], "saved_model.pb"), files["truncated"])}
    start = time.time()
    with pytest.raises(ZooError) as err:
        fn()
    seconds = time.time() - start
    message = str(err.value)
    assert expected in message and "\n" not in message, message
    assert seconds < 30
    assert {p: os.path.getmtime(p) for p in before} == before  # the existing export is untouched
    assert not os.path.exists(os.path.join(files["root"], "exported", "nan_model", "1"))
    RESULTS[case] = ("zoo.create" if case.startswith("create") else "zoo.export" if case.startswith("export")
                     else "eval.model.load", message, "ZooError", seconds)


SIGNATURE_CASES = {  # what the exported signatures refuse (TF Serving answers InvalidArgumentError)
    "signature-shape-28x28x3": ("serving_default", lambda: np.full((4, 28, 28, 3), 0.5), "expected shape [N, 32, 32, 3]"),
    "signature-shape-32x32x1": ("serve_deterministic", lambda: np.full((4, 32, 32, 1), 0.5),
                                "expected shape [N, 32, 32, 3]"),
    "signature-nan": ("serving_default", lambda: np.full((2, 32, 32, 3), np.nan), "images contain NaN or Inf"),
    "signature-inf-bpda": ("serve_bpda", lambda: np.full((2, 32, 32, 3), np.inf), "images contain NaN or Inf"),
    "signature-0-255": ("serving_default", lambda: np.full((2, 32, 32, 3), 200.0), "expected pixel values in [0, 1] "
                        "(divide 0-255 images by 255)"),
    "signature-negative": ("serving_default", lambda: np.full((2, 32, 32, 3), -0.5), "found values below -0.25"),
}


@pytest.fixture(scope="module")
def loaded(files):
    return tf.saved_model.load(files["good"])


@pytest.mark.parametrize("case", list(SIGNATURE_CASES))
def test_exported_signatures_refuse_bad_images(case, loaded):
    signature, make, expected = SIGNATURE_CASES[case]
    start = time.time()
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        loaded.signatures[signature](images=tf.constant(make(), tf.float32))
    assert expected in str(err.value)
    line = next(s for s in str(err.value).splitlines() if expected in s)
    RESULTS[case] = (f"exported {signature}", line.strip()[:160], "InvalidArgumentError", time.time() - start)


def test_signatures_still_answer_good_images(loaded, files):
    x = tf.constant(np.random.default_rng(0).uniform(size=(3, 32, 32, 3)), tf.float32)
    for name in ("serving_default", "serve_deterministic", "serve_bpda", "serve_deterministic_bpda"):
        out = loaded.signatures[name](images=x)
        assert out["logits"].shape == (3, 10) and out["probabilities"].shape == (3, 10)
    with tf.GradientTape() as tape:  # the checks do not block gradients for attacks
        tape.watch(x)
        loss = tf.reduce_sum(loaded.signatures["serve_bpda"](images=x)["logits"][:, 0])
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, x)))) > 0
    outside = loaded.signatures["serve_deterministic"](images=x * 3 - 1)["logits"]  # boundary metric: off the cube
    assert np.isfinite(outside.numpy()).all()
    probe = loaded.signatures["serving_default"](images=x * 1.02 - 0.01)["logits"]  # SPSA's +/- delta probes
    assert np.isfinite(probe.numpy()).all()


@pytest.mark.parametrize("case, make, expected", [
    ("attack-nan-images", lambda: (np.full((2, 32, 32, 3), np.nan, "float32"), np.array([0, 1])),
     "attack fgsm: images contain 6144 NaN or Inf values: expected finite pixel values in [0, 1]"),
    ("attack-labels-shape", lambda: (np.full((2, 32, 32, 3), 0.5, "float32"), np.array([[0, 1]])),
     "attack fgsm: labels of shape (1, 2)"),
])
def test_run_attack_refuses_bad_inputs(case, make, expected, files):
    from eval.attacks import run_attack
    x, y = make()
    start = time.time()
    with pytest.raises(ZooError) as err:
        run_attack("fgsm", lambda v: files["model"](v), x, y)
    assert expected in str(err.value) and "\n" not in str(err.value)
    RESULTS[case] = ("eval.attacks.run_attack", str(err.value), "ZooError", time.time() - start)


def test_at_least_30_distinct_cases_and_table():
    ids = set(CLI_IDS) | set(_zoo_create_cases()) | set(_export_cases({"model": None, "root": "", "blocker": ""})) \
        | set(SIGNATURE_CASES) | {"attack-nan-images", "attack-labels-shape"}
    assert len(ids) >= 30
    path = os.environ.get("BAD_INPUT_TABLE")
    if path:
        with open(path, "w") as f:
            f.write("| case | surface | message (first line) | exit | seconds |\n|---|---|---|---|---|\n")
            for case, (surface, message, code, seconds) in sorted(RESULTS.items()):
                message = re.sub(r"/\S*/pytest-of-[^/]+/pytest-\d+/bad_input\d+", "<tmp>", message)
                message = message if len(message) <= 150 else message[:147] + "..."
                f.write(f"| {case} | {surface} | `{message.replace('|', '/')}` | {code} | {seconds:.1f} |\n")
