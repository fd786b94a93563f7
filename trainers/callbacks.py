"""Callbacks that make long runs safe and visible: phases, divergence guard, crash-safe backup, alpha logging."""
import glob
import json
import math
import os
import time

import keras
import numpy as np

from zoo.layers import PNIConv2D, PNIDense


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; the last good checkpoint is kept and nothing is exported."""


class PhaseScheduler(keras.callbacks.Callback):
    """Set the trainer's phase at each epoch start; re-trace the train step when it changes."""

    def __init__(self):
        super().__init__()
        self.phases = {}

    def on_epoch_begin(self, epoch, logs=None):
        phase = self.model.phase_for_epoch(epoch)
        self.phases[epoch] = phase
        if phase != self.model.phase:
            self.model.phase = phase
            self.model.make_train_function(force=True)


def non_finite_weights(model):
    """Paths of the model's variables holding NaN or Inf (empty when every weight is finite)."""
    return [v.path for v in model.weights if not np.isfinite(np.asarray(v.numpy(), dtype=np.float64)).all()]


class NonFiniteGuard(keras.callbacks.Callback):
    """Stop at the first NaN/Inf loss, and at an epoch end whose weights or metrics are not finite, by
    raising before the backup of that epoch is written: the last checkpoint stays the last good one.

    The weight check at the epoch end catches a divergence the batch losses miss (an epoch of one batch:
    a loss of 2e20 is finite, the update it makes is not). It must come before ``RunBackup`` in the
    callback list. Kept instead of ``keras.callbacks.TerminateOnNaN``, which checks only the batch loss and
    either stops ``fit`` normally (the run would go on to export) or raises a bare RuntimeError, where this one
    also checks weights and epoch metrics and raises ``TrainingDiverged`` (one line, the last good checkpoint kept).
    """

    def __init__(self, net=None):
        super().__init__()
        self.epoch = 0
        self.net = net

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss))):
            raise TrainingDiverged(f"loss is {float(np.asarray(loss))} at epoch {self.epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        bad = non_finite_weights(self.net or self.model)
        if bad:
            raise TrainingDiverged(f"{len(bad)} weights are not finite at the end of epoch {epoch + 1} "
                                   f"(first: {bad[0]})")
        for key, value in (logs or {}).items():
            value = float(np.asarray(value))
            if not math.isfinite(value):
                raise TrainingDiverged(f"{key} is {value} at the end of epoch {epoch + 1}")


class RunBackup(keras.callbacks.Callback):
    """Crash-safe backup of a run: weights with the optimizer state, epoch, per-epoch history, elapsed time.

    Replaces Keras' ``BackupAndRestore`` (whose ``model.save_weights`` already includes the optimizer's
    variables, momentum buffers too) because that one writes ``latest.weights.h5`` and its JSON in place:
    a kill while writing leaves a truncated file, and it keeps neither the history nor the time, so a
    resumed run's ``history.json`` and ``train_seconds`` covered only the last session. Here each epoch
    writes ``epoch-<E>.weights.h5`` under a temporary name, renames it into place, then replaces
    ``training_metadata.json`` (``{"epoch", "weights", "history", "seconds", ...}``) atomically; the
    previous epoch's weights stay as a fallback. A kill at any instant leaves a metadata file that names a
    complete weights file. Nothing is deleted at the end of ``fit``: ``trainers.run`` removes the
    backup only after the export has landed (``remove``).

    ``write_dir`` (default ``backup_dir``): where this process writes. A multi-worker run's non-chief workers
    restore from the chief's ``backup_dir`` and write to a scratch dir, so that one backup is the run's.
    """

    METADATA = "training_metadata.json"

    def __init__(self, backup_dir, session=None, write_dir=None):
        super().__init__()
        self.backup_dir = backup_dir
        self.write_dir = write_dir or backup_dir
        self.path = os.path.join(backup_dir, self.METADATA)
        self.state = {"epoch": 0, "history": {}, "seconds": 0.0}
        self.session = session  # e.g. the commit and machine of this session: kept in state["sessions"]
        self._started = None

    def read(self):
        """The saved state, or None when there is no usable backup."""
        try:
            with open(self.path) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return None
        if not os.path.isfile(os.path.join(self.backup_dir, state.get("weights", ""))):
            return None
        return state

    def on_train_begin(self, logs=None):
        self._started = time.time()
        state = self.read()
        if state is None:
            self._add_session()
            return
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.backup_dir, state["weights"]))
        self.model._initial_epoch = int(state["epoch"])
        self.state = state
        self._add_session()

    def _add_session(self):
        if self.session is not None:
            self.state.setdefault("sessions", []).append({**self.session, "start_epoch": int(self.state["epoch"])})

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.write_dir, exist_ok=True)
        history = self.state.setdefault("history", {})
        for key, value in (logs or {}).items():
            history.setdefault(key, []).append(float(np.asarray(value)))
        name = f"epoch-{epoch + 1}.weights.h5"
        tmp = os.path.join(self.write_dir, f".tmp-{os.getpid()}-{name}")
        self.model.save_weights(tmp, overwrite=True)
        os.replace(tmp, os.path.join(self.write_dir, name))
        previous = self.state.get("weights")
        self.state.update(epoch=epoch + 1, weights=name, previous=previous,
                          seconds=self.state.get("seconds", 0.0) + time.time() - self._started)
        self._started = time.time()
        write_json_atomic(os.path.join(self.write_dir, self.METADATA), self.state)
        keep = {name, previous}
        for old in glob.glob(os.path.join(self.write_dir, "epoch-*.weights.h5")):
            if os.path.basename(old) not in keep:
                os.remove(old)

    def seconds(self):
        """Training time over every session of this run (a resumed run adds its earlier sessions')."""
        return self.state.get("seconds", 0.0) + (time.time() - self._started if self._started else 0.0)

    def history(self):
        return self.state.get("history", {})

    def remove(self):
        import shutil
        shutil.rmtree(self.backup_dir, ignore_errors=True)


def write_json_atomic(path, value):
    """Write JSON under a temporary name and rename it over ``path`` (a kill leaves old or new, never half)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def alpha_values(net):
    """{'<layer>/alpha_<placement>': mean alpha} for every PNI layer (layerwise: the alpha itself)."""
    values = {}
    for layer in net._flatten_layers():
        if isinstance(layer, (PNIConv2D, PNIDense)):
            for placement, alpha in layer.alphas.items():
                values[f"{layer.name}/alpha_{placement}"] = float(np.mean(alpha.numpy()))
    return values


class AlphaLogger(keras.callbacks.Callback):
    """PNI: per-layer alpha every epoch, to TensorBoard (``<run>/tensorboard/alpha``), alpha.json and a line.

    The noise eta is symmetric, so alpha and -alpha inject the same noise: |alpha| is the noise scale.
    """

    def __init__(self, net, run_dir):
        super().__init__()
        self.net = net
        self.path = os.path.join(run_dir, "alpha.json")
        self.tb_dir = os.path.join(run_dir, "tensorboard", "alpha")
        self.writer = None
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        values = alpha_values(self.net)
        if not values:
            return
        self.writer = self.writer or tf.summary.create_file_writer(self.tb_dir)
        with self.writer.as_default():
            for key, value in values.items():
                tf.summary.scalar(key, value, step=epoch + 1)
        self.writer.flush()
        if logs is not None:  # into the epoch's logs: RunBackup keeps them in the history across resumes
            logs.update({f"alpha:{k}": v for k, v in values.items()})
        self.history.append({"epoch": epoch + 1, **values})
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "w") as f:
            json.dump(self.history, f, indent=1)
        first = list(values.items())[:5]
        print("alpha " + "  ".join(f"{k.split('/')[0]}={v:.3f}" for k, v in first)
              + (f"  (+{len(values) - 5} more in {self.path})" if len(values) > 5 else ""))
