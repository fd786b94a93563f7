"""Crash safety (issue 10, item 2): the checkpoint outlives the export, optimizer state survives a resume, a
divergence the batch losses miss is still caught, and nothing non-finite is exported. The kill -9 sweep is
``bench/crash_sweep.py``."""
import json
import os

import keras
import numpy as np
import pytest

import zoo
from tests.trainers.conftest import tiny_config
from trainers import cli, run
from trainers.callbacks import RunBackup, TrainingDiverged


def _config(tmp_path, **overrides):
    base = dict(model="lenet5", width=1.0, epochs=2, num_train_examples=64, num_eval_examples=32,
                run_dir=str(tmp_path / "runs"), export_dir=str(tmp_path / "export"), export_name="safe")
    base.update(overrides)
    return tiny_config("vanilla", **base)


def test_momentum_buffers_are_restored_on_resume(tmp_path):
    config = _config(tmp_path, epochs=1)
    backup_dir = str(tmp_path / "backup")
    trainer, _, train_ds, _ = run.build(config)
    trainer.fit(train_ds, epochs=1, verbose=0, callbacks=[RunBackup(backup_dir)])
    saved = [v.numpy().copy() for v in trainer.optimizer.variables]
    assert any("momentum" in v.path and np.abs(v.numpy()).sum() > 0 for v in trainer.optimizer.variables)

    fresh, _, train_ds, _ = run.build(config)
    backup = RunBackup(backup_dir)
    fresh.fit(train_ds, epochs=1, verbose=0, callbacks=[backup])  # resumes after epoch 1: nothing left to run
    assert backup.state["epoch"] == 1
    restored = [v.numpy() for v in fresh.optimizer.variables]
    assert len(restored) == len(saved)
    for a, b in zip(saved, restored):
        np.testing.assert_array_equal(a, b)  # momentum buffers and the iteration count, bit for bit


def test_a_kill_during_export_keeps_the_checkpoint_and_the_rerun_exports_all_epochs(tmp_path, monkeypatch):
    config = _config(tmp_path)
    real_export = zoo.export

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed during the export")

    monkeypatch.setattr(zoo, "export", killed)
    with pytest.raises(KeyboardInterrupt):
        run.train(config, verbose=0)
    meta = tmp_path / "runs" / "safe" / "backup" / RunBackup.METADATA
    state = json.loads(meta.read_text())
    assert state["epoch"] == 2 and len(state["history"]["loss"]) == 2  # the finished run is all still there
    assert (tmp_path / "runs" / "safe" / "backup" / state["weights"]).exists()

    monkeypatch.setattr(zoo, "export", real_export)
    result = run.train(config, verbose=0)  # resumes at the end: no epoch runs, the export lands
    assert result["phases"] == {}  # no epoch was trained again
    assert len(result["history"]["loss"]) == 2 and result["history"]["loss"] == state["history"]["loss"]
    assert result["metrics"]["train_seconds"] == round(state["seconds"], 1)
    assert os.path.isfile(os.path.join(result["export_path"], "saved_model.pb"))
    assert not meta.exists()  # removed only after the export landed


class _NonFiniteUpdate(keras.callbacks.Callback):
    """After the last batch of epoch ``epoch`` (0-based), the weights turn NaN while the batch loss was finite:
    what a single-batch epoch with a loss of 2e20 does."""

    def __init__(self, built, epoch):
        super().__init__()
        self.built, self.epoch, self.current = built, epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch:
            kernel = self.built["net"].get_layer("fc").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


@pytest.mark.parametrize("bad_epoch, kept", [(1, 1), (0, None)])
def test_single_batch_divergence_is_caught_and_the_kept_checkpoint_is_finite(tmp_path, monkeypatch, bad_epoch, kept):
    config = _config(tmp_path, epochs=3, num_train_examples=32, batch_size=32)  # one batch per epoch
    built = {}
    original = run.build

    def build(cfg, strategy=None):
        out = original(cfg, strategy)
        built["net"] = out[1]
        return out

    monkeypatch.setattr(run, "build", build)
    with pytest.raises(TrainingDiverged, match=f"weights are not finite at the end of epoch {bad_epoch + 1}") as err:
        run.train(config, verbose=0, extra_callbacks=[_NonFiniteUpdate(built, bad_epoch)])
    message = cli._diverged_message(config, err.value)
    backup = tmp_path / "runs" / "safe" / "backup"
    if kept is None:
        assert "no checkpoint was saved before it" in message
        assert not (backup / RunBackup.METADATA).exists()
    else:
        assert f"the last good checkpoint (epoch {kept}) is kept in {backup}" in message
        state = RunBackup(str(backup)).read()
        assert state["epoch"] == kept and (backup / state["weights"]).exists()  # the dir the message names exists
        fresh, net, _, _ = original(config)
        fresh.load_weights(str(backup / state["weights"]))
        assert all(np.isfinite(v.numpy()).all() for v in fresh.weights)
    assert not (tmp_path / "export" / "safe" / "1").exists()  # nothing exported


class _KillAfterEpoch(keras.callbacks.Callback):
    """Raise after epoch ``epoch``'s backup is written (it comes after RunBackup in the callback list)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt(f"killed after epoch {self.epoch}")


def test_a_resumed_run_trains_as_an_uninterrupted_one(tmp_path):
    """Same weights, optimizer state, learning rate and data order: the resumed epochs' losses are the
    uninterrupted run's (one process, one machine)."""
    reference = run.train(_config(tmp_path / "a", epochs=3, num_train_examples=96), verbose=0)["history"]
    config = _config(tmp_path / "b", epochs=3, num_train_examples=96)
    with pytest.raises(KeyboardInterrupt):
        run.train(config, verbose=0, extra_callbacks=[_KillAfterEpoch(1)])
    resumed = run.train(config, verbose=0)
    assert sorted(resumed["phases"]) == [1, 2]  # epochs 2 and 3 ran in the second session
    np.testing.assert_allclose(resumed["history"]["loss"], reference["loss"], rtol=1e-5)
    np.testing.assert_allclose(resumed["history"]["val_loss"], reference["val_loss"], rtol=1e-5)
