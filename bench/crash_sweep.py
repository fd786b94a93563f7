"""kill -9 sweep (issue 10, item 2): kill a small digits training and an export at random points, check what
survives. Prints JSON; BUILD.md's Reliability section quotes one run. Not a test (about 5 minutes on 2 cores).

    .venv/bin/python -m bench.crash_sweep [--kills=10] [--export_kills=10] [--seed=0]

Training: an uninterrupted reference run, then per kill a fresh run killed (SIGKILL) at a uniformly random
instant between its first epoch line and the reference's end, and the same command rerun to completion.
Checked: the backup left by the kill is readable and names a complete weights file; the rerun starts at the
epoch after the last finished one (no finished epoch is lost or repeated); its history.json covers every
epoch; exactly one version was exported per run (two if the kill fell between the export's rename and the
backup's removal, reported; a kill after the run had finished is counted apart: its rerun is a new run); the
final test accuracy and validation loss against the reference's (the resumed run fast-forwards the tf.data
shuffle, so they should be equal on one machine).
Export: a process exports a LeNet-5 into one model directory and is killed at a random instant of its
export; afterwards no integer version directory lacks saved_model.pb, variables/ or its metadata, and the
next export removes the temporary directories the kills left.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
EPOCHS = 4
TRAIN = ["-m", "trainers.vanilla", "--model=lenet5", "--dataset=digits", f"--epochs={EPOCHS}", "--batch_size=32",
         "--num_train_examples=512", "--num_eval_examples=256", "--noaugment", "--lr=0.05", "--lr_boundaries=3",
         "--verbose=2", "--seed=0", "--export_name=sweep"]
EXPORT_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
import zoo
model = zoo.create("lenet5", input_shape=(32, 32, 3))
print("ready", flush=True)
zoo.export(model, sys.argv[1], name="m")
print("done", flush=True)
"""


class Proc:
    """A subprocess whose stdout lines are collected with their arrival time."""

    def __init__(self, args):
        self.start = time.time()
        self.p = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.err = []
        threading.Thread(target=self._read, args=(self.p.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, self.err), daemon=True).start()

    def _read(self, stream, out):
        for line in stream:
            out.append((time.time() - self.start, line.rstrip("\n")))

    def first(self, prefix, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for t, line in list(self.lines):
                if line.startswith(prefix):
                    return t
            if self.p.poll() is not None:
                return None
            time.sleep(0.01)
        return None

    def wait(self, timeout=600):
        self.p.wait(timeout)
        time.sleep(0.05)
        return self.p.returncode


def _epochs_started(lines):
    return [int(line.split()[1].split("/")[0]) for _, line in lines if line.startswith("Epoch ")]


def train_sweep(kills, rng, work):
    ref_dir = os.path.join(work, "ref")
    ref = Proc([*TRAIN, f"--run_dir={ref_dir}/runs", f"--export_dir={ref_dir}/export"])
    assert ref.wait() == 0, "\n".join(line for _, line in ref.err[-20:])
    t_first, t_end = ref.first("Epoch 1/"), ref.lines[-1][0]
    ref_record = json.load(open(os.path.join(ref_dir, "runs", "sweep", "history.json")))
    ref_metrics = ref_record["metrics"]
    rows = []
    for i in range(kills):
        run = os.path.join(work, f"train{i}")
        flags = [f"--run_dir={run}/runs", f"--export_dir={run}/export"]
        victim = Proc([*TRAIN, *flags])
        started = victim.first("Epoch 1/")
        delay = rng.uniform(0, max(t_end - t_first, 0.5))
        time.sleep(max(0.0, delay - (time.time() - victim.start - started)))
        victim.p.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = time.time() - victim.start - started
        backup = os.path.join(run, "runs", "sweep", "backup")
        state = None
        if os.path.exists(os.path.join(backup, "training_metadata.json")):
            state = json.load(open(os.path.join(backup, "training_metadata.json")))  # must parse: atomic
            assert os.path.isfile(os.path.join(backup, state["weights"])), "backup names a missing weights file"
        saved = state["epoch"] if state else 0
        exported_before = sorted(os.listdir(os.path.join(run, "export", "sweep")))
        rerun = Proc([*TRAIN, *flags])
        code = rerun.wait()
        started_epochs = _epochs_started(rerun.lines)
        record = json.load(open(os.path.join(run, "runs", "sweep", "history.json")))
        versions = sorted(v for v in os.listdir(os.path.join(run, "export", "sweep")) if v.isdigit())
        rows.append({
            "kill_s_after_epoch1": round(killed_at, 2), "saved_epoch": saved,
            "exported_before_rerun": [v for v in exported_before if v.isdigit()],
            "rerun_exit": code, "rerun_first_epoch": started_epochs[0] if started_epochs else None,
            "resumed_correctly": (started_epochs[:1] == [saved + 1]) if saved < EPOCHS else started_epochs == [],
            "history_epochs": len(record["history"]["loss"]), "versions": versions,
            "test_acc": record["metrics"]["test_acc"], "val_loss": record["metrics"].get("val_loss"),
            "train_seconds": record["metrics"]["train_seconds"],
        })
        shutil.rmtree(run, ignore_errors=True)
    return {"reference": {"test_acc": ref_metrics["test_acc"], "val_loss": ref_metrics.get("val_loss"),
                          "train_seconds": ref_metrics["train_seconds"], "first_epoch_at_s": round(t_first, 2),
                          "end_at_s": round(t_end, 2)}, "kills": rows}


def export_sweep(kills, rng, work):
    root = os.path.join(work, "exports")
    script = EXPORT_SCRIPT.format(root=ROOT)
    probe = Proc(["-c", script, root])  # one uninterrupted export: how long the export itself takes
    assert probe.wait() == 0, "\n".join(line for _, line in probe.err[-20:])
    span = probe.first("done") - probe.first("ready")
    rows = []
    for _ in range(kills):
        victim = Proc(["-c", script, root])
        ready = victim.first("ready")
        delay = rng.uniform(0, span * 1.1)
        time.sleep(max(0.0, delay - (time.time() - victim.start - ready)))
        victim.p.send_signal(signal.SIGKILL)
        victim.wait()
        model_dir = os.path.join(root, "m")
        entries = os.listdir(model_dir)
        incomplete = [v for v in entries if v.isdigit() and not all(
            os.path.exists(os.path.join(model_dir, v, part)) for part in
            ("saved_model.pb", os.path.join("variables", "variables.index"),
             os.path.join("assets.extra", "zoo_metadata.json")))]
        rows.append({"kill_s_into_export": round(delay, 2), "finished": any(line == "done" for _, line in victim.lines),
                     "tmp_dirs_left": sum(e.startswith(".tmp-") for e in entries), "incomplete_versions": incomplete})
    last = Proc(["-c", script, root])
    assert last.wait() == 0
    entries = os.listdir(os.path.join(root, "m"))
    return {"export_seconds": round(span, 2), "kills": rows,
            "after_next_export": {"versions": sorted(int(e) for e in entries if e.isdigit()),
                                  "tmp_dirs_left": sum(e.startswith(".tmp-") for e in entries)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--export_kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="crash_sweep_")
    start = time.time()
    try:
        out = {"train": train_sweep(args.kills, rng, work), "export": export_sweep(args.export_kills, rng, work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = out["train"]["kills"]
    ref = out["train"]["reference"]
    out["summary"] = {
        "training_kills": len(rows),
        "resumed_at_last_finished_epoch": sum(r["resumed_correctly"] for r in rows),
        "reruns_ok": sum(r["rerun_exit"] == 0 for r in rows),
        "history_covers_all_epochs": sum(r["history_epochs"] == EPOCHS for r in rows),
        "killed_after_the_run_had_finished": sum(bool(r["exported_before_rerun"]) for r in rows),
        "duplicate_exports_of_one_run": sum(len(r["versions"]) > 1 and not r["exported_before_rerun"] for r in rows),
        "final_metrics_equal_to_reference": sum(r["test_acc"] == ref["test_acc"] and r["val_loss"] == ref["val_loss"]
                                                for r in rows),
        "max_abs_test_acc_diff": round(max(abs(r["test_acc"] - ref["test_acc"]) for r in rows), 4),
        "max_abs_val_loss_diff": round(max(abs((r["val_loss"] or 0) - (ref["val_loss"] or 0)) for r in rows), 4),
        "export_kills": len(out["export"]["kills"]),
        "incomplete_versions": sum(len(r["incomplete_versions"]) for r in out["export"]["kills"]),
        "tmp_dirs_left_after_next_export": out["export"]["after_next_export"]["tmp_dirs_left"],
        "seconds": round(time.time() - start, 1),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
