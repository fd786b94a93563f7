"""Callbacks that make long runs safe and visible: phases, divergence guard, alpha logging."""
import json
import math
import os

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


class NonFiniteGuard(keras.callbacks.Callback):
    """Stop at the first NaN/Inf loss by raising, so BackupAndRestore keeps its last epoch."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss))):
            raise TrainingDiverged(f"loss is {float(np.asarray(loss))} at epoch {self.epoch + 1}, batch {batch + 1}")


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
        self.history.append({"epoch": epoch + 1, **values})
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "w") as f:
            json.dump(self.history, f, indent=1)
        first = list(values.items())[:5]
        print("alpha " + "  ".join(f"{k.split('/')[0]}={v:.3f}" for k, v in first)
              + (f"  (+{len(values) - 5} more in {self.path})" if len(values) > 5 else ""))
