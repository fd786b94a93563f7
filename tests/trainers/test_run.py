"""Running for real: resume after a kill, stop on NaN without exporting, flag errors, tf.distribute."""
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from tests.trainers.conftest import tiny_config
from trainers import run
from trainers.callbacks import TrainingDiverged
from trainers.config import validate
from trainers.base import TRAINERS
import zoo
from zoo.errors import ZooError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(method, *flags, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", f"trainers.{method}", *flags], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_killed_run_resumes_at_the_last_finished_epoch(tmp_path):
    flags = ["--model=resnet20", "--width=0.25", "--dataset=digits", "--epochs=5", "--batch_size=16",
             "--num_train_examples=320", "--num_eval_examples=128", "--noaugment", "--lr=0.05", "--lr_boundaries=4", f"--run_dir={tmp_path}/runs",
             f"--export_dir={tmp_path}/export", "--export_name=resume", "--verbose=2"]
    meta = tmp_path / "runs" / "resume" / "backup" / "training_metadata.json"
    first = _cli("vanilla", *flags)
    deadline = time.time() + 300
    while time.time() < deadline and first.poll() is None:
        if meta.exists() and json.loads(meta.read_text() or "{}").get("epoch", 0) >= 2:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    state = json.loads(meta.read_text())
    finished = state["epoch"]
    assert 2 <= finished < 5, "the first run should be killed mid-training"
    assert len(state["history"]["loss"]) == finished and state["seconds"] > 0
    assert not (tmp_path / "export" / "resume" / "1").exists()  # killed: nothing exported

    second = _cli("vanilla", *flags)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-2000:]
    epochs = [line.split()[1] for line in out.splitlines() if line.startswith("Epoch ")]
    assert epochs[0] == f"{finished + 1}/5" and epochs[-1] == "5/5"
    assert (tmp_path / "export" / "resume" / "1" / "saved_model.pb").exists()
    assert not meta.exists()  # a finished run removes its backup once the export has landed
    record = json.loads((tmp_path / "runs" / "resume" / "history.json").read_text())
    assert len(record["history"]["loss"]) == 5  # every epoch, both sessions
    assert record["history"]["loss"][:finished] == state["history"]["loss"]
    assert record["metrics"]["train_seconds"] >= round(state["seconds"], 1)  # the first session's time counts
    sessions = record["provenance"]["sessions"]  # each session's commit and machine; the run's is the first's
    assert [s["start_epoch"] for s in sessions] == [0, finished]
    assert record["provenance"]["commit"] == sessions[0]["provenance"]["commit"]
    assert sessions[0]["provenance"]["cpu"] and sessions[1]["started_at"] >= sessions[0]["started_at"]


class _PoisonAtEpoch(keras.callbacks.Callback):
    def __init__(self, net, epoch):
        super().__init__()
        self.net, self.epoch = net, epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.net.get_layer("fc").kernel
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))


def test_nan_loss_stops_keeps_the_last_good_checkpoint_and_exports_nothing(tmp_path, monkeypatch):
    config = tiny_config("vanilla", epochs=3, num_train_examples=64, run_dir=str(tmp_path / "runs"),
                         export_dir=str(tmp_path / "export"), export_name="nan")
    built = {}
    original_build = run.build

    def build_and_poison(cfg, strategy=None):
        trainer, net, train_ds, eval_ds = original_build(cfg, strategy)
        built["net"] = net
        return trainer, net, train_ds, eval_ds

    monkeypatch.setattr(run, "build", build_and_poison)

    class LatePoison(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            _PoisonAtEpoch(built["net"], 1).on_epoch_begin(epoch)

    with pytest.raises(TrainingDiverged, match="loss is nan at epoch 2, batch 1"):
        run.train(config, verbose=0, extra_callbacks=[LatePoison()])
    backup = tmp_path / "runs" / "nan" / "backup"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1
    assert not (tmp_path / "export" / "nan" / "1").exists()  # the directory is made before training; no version


@pytest.mark.parametrize("overrides, message", [
    (dict(model="resnet21"), "--model=resnet21: expected one of alexnet"),
    (dict(eps=-0.1), "--eps=-0.1: expected a value in [0, 1]"),
    (dict(eps=5), "--eps=5: expected a value in [0, 1]"),
    (dict(lr_decay=-1), "--lr_decay=-1: expected a multiplier > 0"),
    (dict(steps=0), "--steps=0: expected an integer >= 1"),
    (dict(method="anp", epochs=10, anp_clean_epochs=40), "--epochs=10: expected >= 140, the clean epochs plus"),
    (dict(strategy="tpu"), "--strategy=tpu: expected one of default, mirrored, multi_worker"),
    (dict(method="eat"), "--eat_holdout=: expected at least one SavedModel directory"),
    (dict(attack_bn="batch"), "--attack_bn=batch: expected one of eval, train"),
    (dict(fft_layers="first"), "--fft_layers=first: expected input, all, or comma-separated conv indices"),
    (dict(fft_fraction=1.5), "--fft_fraction=1.5: expected the kept fraction of the spectrum in (0, 1]"),
    (dict(method="paramnet", pni="W", paramnet=0.1), "--paramnet=0.1: expected 0 with --pni=W"),
    (dict(hidden_noise=-0.1), "--hidden_noise=-0.1: expected a standard deviation >= 0"),
])
def test_wrong_flags_fail_before_any_work(overrides, message):
    with pytest.raises(ZooError) as err:  # the Variant flags fail when the config is made (TrainConfig.from_flat)
        validate(tiny_config(overrides.pop("method", "pgd"), anp_layers=2, **overrides), zoo.list_models(), TRAINERS)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cli_usage_errors_exit_2_with_one_line(tmp_path):
    bad = _cli("pni", "--model=resnet21", f"--run_dir={tmp_path}")
    out, err = bad.communicate(timeout=120)
    assert bad.returncode == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("error: --model=resnet21: expected one of") and not (tmp_path / "resnet21").exists()
    unknown = _cli("anp", "--bogus_flag=1")
    out, err = unknown.communicate(timeout=120)
    assert unknown.returncode == 2 and "bogus_flag" in err.splitlines()[-1]


def test_mirrored_strategy_gives_the_same_first_step_loss_as_default(tmp_path):
    """Two logical CPU devices; a BN-free LeNet so that per-replica batch statistics play no role."""
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {ROOT!r})
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tests.trainers.conftest import tiny_config
        from trainers import run
        from zoo import data
        x, y = data.as_numpy("digits", "train", 64)
        out = {{}}
        for name in ("default", "mirrored"):
            config = tiny_config("vanilla", model="lenet5", width=1.0, strategy=name, batch_size=64)
            strategy = run.make_strategy(name)
            trainer, net, _, _ = run.build(config, strategy)
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
            logs = trainer.fit(ds, epochs=1, verbose=0).history
            out[name] = {{"loss": logs["loss"][0], "replicas": strategy.num_replicas_in_sync,
                          "kernel": float(tf.reduce_sum(net.get_layer("fc").kernel))}}
        print(json.dumps(out))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["default"]["replicas"] == 1 and out["mirrored"]["replicas"] == 2
    assert out["mirrored"]["loss"] == pytest.approx(out["default"]["loss"], rel=1e-5)
    assert out["mirrored"]["kernel"] == pytest.approx(out["default"]["kernel"], rel=1e-4)  # same update


@pytest.mark.parametrize("jit, mixed", [(True, False), (False, True)])
def test_xla_and_mixed_precision_steps_learn(jit, mixed, digits_batch):
    config = tiny_config("pgd", model="lenet5", width=1.0, jit_compile=jit, mixed_precision=mixed, adv_ratio=0.5)
    try:
        trainer, net, _, _ = run.build(config, strategy=None)
        assert net.get_layer("conv0").compute_dtype == ("float16" if mixed else "float32")
        x, y = digits_batch
        losses = [trainer.train_on_batch(x, y, return_dict=True)["loss"] for _ in range(15)]
        assert np.isfinite(losses).all() and np.mean(losses[-3:]) < np.mean(losses[:3])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_learning_rate_schedules():
    step = tiny_config("vanilla", lr=0.1, epochs=10, lr_boundaries=(4, 8), lr_decay=0.1)
    assert [round(run.lr_at(step, e), 6) for e in (0, 3, 4, 8, 9)] == [0.1, 0.1, 0.01, 0.001, 0.001]
    cos = tiny_config("vanilla", lr=0.2, epochs=11, lr_schedule="cosine", warmup_epochs=1)
    lrs = [run.lr_at(cos, e) for e in range(11)]
    assert lrs[0] == pytest.approx(0.1)  # warm-up: lr * 1/2
    assert lrs[1] == pytest.approx(0.2)  # the peak, right after the warm-up
    assert lrs[6] == pytest.approx(0.1)  # half way through the cosine
    assert all(a > b for a, b in zip(lrs[1:], lrs[2:])) and 0 < lrs[-1] < 0.01
    for bad, message in ((dict(lr_schedule="linear"), "--lr_schedule=linear: expected one of step, cosine"),
                         (dict(warmup_epochs=11), "--warmup_epochs=11: expected an integer in [0, epochs)")):
        with pytest.raises(ZooError, match=re.escape(message)):
            validate(dataclasses.replace(cos, **bad), zoo.list_models(), TRAINERS)
