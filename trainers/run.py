"""Run a training method end to end: TrainConfig -> data, model, trainer -> fit -> export.

The library half of ``python -m trainers.<method> --flagfile=configs/<setup>.cfg`` (flags -> TrainConfig
is ``trainers.cli``): ``train(config)`` validates, builds, fits, exports.

Every run keeps its state in ``<run_dir>/<name>/``: ``backup/`` (``RunBackup``: rerunning the
same command resumes after the last finished epoch, optimizer state, history and time included; removed
only once the export has landed), ``tensorboard/`` and ``history.json``.
At the end the model is exported to ``<export_dir>/<name>/<version>/`` with the flags and metrics
in its metadata. Usage errors print one line and exit with status 2; a diverged run exits with 1.
"""
import math
import os
import shutil
import tempfile
import time

import numpy as np

from trainers import jit
import trainers.methods  # noqa: F401  (registers every method in TRAINERS)
from trainers.base import TRAINERS, is_multi_worker
from trainers.callbacks import (AlphaLogger, NonFiniteGuard, PhaseScheduler, RunBackup, TrainingDiverged, alpha_values,
                                non_finite_weights, write_json_atomic)
from trainers.config import check_paths, validate
from trainers.provenance import provenance


def make_strategy(name):
    import tensorflow as tf
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    return tf.distribute.get_strategy()


def worker_role(strategy):
    """(is_chief, task id) of this process: the chief is TF_CONFIG's "chief" task, else worker 0 (the TF guide's
    rule); every process that is not multi-worker is its own chief."""
    if not is_multi_worker(strategy):
        return True, 0
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief), task_id


def average_across_workers(net, strategy):
    """Make the workers' batch-norm moving statistics (updated from each worker's own batches, so they differ)
    their mean, so that every worker holds the same model and the chief's export is the run's. A collective:
    every worker calls it at the same point; a no-op without multi-worker."""
    if not is_multi_worker(strategy):
        return
    import tensorflow as tf
    variables = [v for v in net.non_trainable_variables if tf.as_dtype(v.dtype).is_floating]
    if not variables:
        return
    flat = tf.concat([tf.reshape(tf.cast(tf.convert_to_tensor(v), tf.float32), [-1]) for v in variables], 0)
    mean = strategy.reduce("MEAN", flat, axis=None)  # one collective over the workers
    for variable, value in zip(variables, tf.split(mean, [int(np.prod(v.shape)) for v in variables])):
        variable.assign(tf.cast(tf.reshape(value, variable.shape), variable.dtype))


# Not keras.optimizers.schedules (PiecewiseConstantDecay, CosineDecay with warmup_target): they are functions of
# optimizer.iterations, so they would need the steps per epoch (unknown for a dataset of unknown length) and would
# move the warm-up and cosine lr within each epoch instead of holding the per-epoch value that the shipped models
# were trained with and tests/trainers/test_run.py checks, which a resumed run recomputes from the epoch number.
def lr_at(config, epoch):
    """The learning rate of 0-based ``epoch``.

    warm-up (epoch < warmup_epochs): lr * (epoch + 1) / (warmup_epochs + 1), rising linearly;
    "step": lr * lr_decay^(number of boundaries <= epoch) (PNI: x0.1 at 80 and 120);
    "cosine": lr * (1 + cos(pi * t)) / 2 with t = (epoch - warmup) / (epochs - warmup), from lr to near 0.
    """
    if epoch < config.warmup_epochs:
        return config.lr * (epoch + 1) / (config.warmup_epochs + 1)
    if config.lr_schedule == "cosine":
        t = (epoch - config.warmup_epochs) / max(config.epochs - config.warmup_epochs, 1)
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * t))
    return config.lr * config.lr_decay ** sum(epoch >= b for b in config.lr_boundaries)


def build(config, strategy=None):
    """(trainer, net, datasets) for a validated config, created under the strategy's scope (made first when
    not given: MultiWorkerMirroredStrategy must exist before any TensorFlow op runs, or it raises "Collective
    ops must be configured at program startup")."""
    import keras

    import zoo
    from zoo import data

    strategy = strategy or make_strategy(config.strategy)
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if config.mixed_precision else "float32")
    info = data.info(config.dataset, data_dir=config.data_dir, preprocess=config.preprocess,
                     image_size=config.image_size)
    common = dict(batch_size=config.batch_size, data_dir=config.data_dir, seed=config.seed,
                  preprocess=config.preprocess, image_size=config.image_size)
    train_ds = data.load(config.dataset, config.train_split, augment=config.augment,
                         num_examples=config.num_train_examples, **common)
    eval_ds = data.load(config.dataset, config.eval_split, num_examples=config.num_eval_examples, **common)
    cls = TRAINERS[config.method]
    with strategy.scope():
        net = zoo.create(config.model, num_classes=info.num_classes, input_shape=info.input_shape,
                         mean=info.mean, std=info.std, **cls.model_options(config))
        trainer = cls(net, config)
        trainer.compile(optimizer=keras.optimizers.SGD(learning_rate=config.lr, momentum=config.momentum,
                                                       nesterov=config.nesterov),
                        jit_compile=jit.parse_mode(config.jit_compile) is True)  # auto: decided in train()
    return trainer, net, train_ds, eval_ds


def accuracy(net, dataset, noise):
    """Top-1 accuracy of the model as served, with inference noise on or off."""
    import tensorflow as tf

    import zoo
    correct = total = 0
    with zoo.inference_noise(net, noise):
        @tf.function(reduce_retracing=True)
        def predict(x):  # a def, not a lambda: AutoGraph cannot read a lambda's source and warns
            return tf.argmax(net(x, training=False), axis=-1, output_type=tf.int32)

        for x, y in dataset:
            correct += int(tf.reduce_sum(tf.cast(predict(x) == tf.cast(y, tf.int32), tf.int32)))
            total += int(x.shape[0])
    return correct / max(total, 1)


def check_run_dirs(config):
    """Check the inputs that must exist (EAT hold-outs) and create and test-write the run and export
    directories before any work (a bad path fails in seconds, not after training): one-line ZooError
    naming the flag, the path and what exists."""
    from zoo.cli import writable_dir
    check_paths(config)
    writable_dir(os.path.join(config.run_dir, config.name), "run_dir", shown=config.run_dir)
    writable_dir(os.path.join(config.export_dir, config.name), "export_dir", shown=config.export_dir)


def _fast_forward(train_ds, resumed):
    """Advance the training pipeline's random streams as the finished epochs did, so that a resumed run's
    epoch E+1 gets the shuffle order and augmentation an uninterrupted run's would.

    Every ``iter()`` of the dataset draws the next shuffle and augmentation streams (``reshuffle_each_iteration``,
    ``zoo.data.load``). Keras 3's ``EpochIterator`` makes two iterators per epoch of a dataset of known length
    (one at the start, one at the end, discarded); tests/trainers/test_crash_safety.py checks that a resumed
    run's losses equal an uninterrupted run's, so a Keras change here shows up there.
    """
    if not resumed:
        return
    per_epoch = 2 if int(train_ds.cardinality()) >= 0 else 1  # unknown length: best effort (one per epoch)
    for _ in range(per_epoch * int(resumed["epoch"])):
        iter(train_ds)


def train(config, verbose=1, extra_callbacks=(), strategy=None):
    """Train, checkpoint, resume, export. Returns a dict with the export path, metrics and history.

    Crash safety: the backup (weights, optimizer state, epoch, per-epoch history, elapsed time;
    ``RunBackup``) is removed only after the export has landed, so a kill during the final test pass or
    the export resumes with nothing lost; weights or metrics that are not finite are never exported.
    """
    import zoo
    validate(config, zoo.list_models(), TRAINERS)
    strategy = strategy or make_strategy(config.strategy)  # before any TensorFlow op (see build)
    is_chief, task = worker_role(strategy)
    check_run_dirs(config)
    run_dir = os.path.join(config.run_dir, config.name)
    # Multi-worker: every worker runs every step (saving may take collectives), but only the chief writes the run
    # dir and the export; the others write to a scratch dir removed at the end (the TF multi-worker guide's rule).
    # Every worker resumes from the chief's backup, so --run_dir must be shared storage across hosts.
    scratch = None if is_chief else tempfile.mkdtemp(prefix=f"{config.name}-worker{task}-")
    try:
        return _train(config, verbose, extra_callbacks, strategy, run_dir, scratch)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _train(config, verbose, extra_callbacks, strategy, run_dir, scratch):
    import keras

    import zoo
    write_dir = scratch or run_dir  # this process's run files
    session = {"provenance": provenance(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # the code that runs
    trainer, net, train_ds, eval_ds = build(config, strategy)
    per_epoch = int(train_ds.cardinality())
    session["jit"] = jit.choose(trainer, config, eval_ds, config.epochs * per_epoch if per_epoch > 0 else 10**6,
                                log=(lambda m: None) if verbose == 0 else print)
    phases = PhaseScheduler()
    backup = RunBackup(os.path.join(run_dir, "backup"), session=session,
                       write_dir=os.path.join(write_dir, "backup"))
    callbacks = [
        phases,
        keras.callbacks.LearningRateScheduler(lambda epoch: lr_at(config, epoch)),
        NonFiniteGuard(net),  # before the backup: a diverged epoch is never saved
        AlphaLogger(net, write_dir),  # before the backup: the alphas go into the saved history
        backup,
        *extra_callbacks,
        keras.callbacks.TensorBoard(os.path.join(write_dir, "tensorboard")),
    ]
    _fast_forward(train_ds, backup.read())
    trainer.fit(train_ds, epochs=config.epochs, validation_data=eval_ds, callbacks=callbacks,
                verbose=verbose, shuffle=False)  # the tf.data pipeline shuffles
    average_across_workers(net, strategy)
    history = backup.history()  # every epoch, also those of earlier sessions of a resumed run
    bad = non_finite_weights(net)
    if bad:
        raise TrainingDiverged(f"{len(bad)} weights are not finite after training (first: {bad[0]})")
    metrics = {k: float(v[-1]) for k, v in history.items() if not k.startswith("alpha:")}
    randomness = zoo.randomness(net)
    metrics["test_acc"] = accuracy(net, eval_ds, noise=True)
    if randomness["is_random"]:
        metrics["test_acc_deterministic"] = accuracy(net, eval_ds, noise=False)
    metrics["train_seconds"] = round(backup.state.get("seconds", 0.0), 1)
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if bad:
        raise TrainingDiverged(f"metric {bad[0]} is {metrics[bad[0]]} after training")
    sessions = backup.state.get("sessions") or [{**session, "start_epoch": 0}]
    # the commit and machine the run started with; every session (a resumed run has several) beside it
    origin = {**sessions[0]["provenance"], "sessions": sessions}
    record = {"config": config.as_dict(), "history": history, "metrics": metrics, "provenance": origin,
              "epochs_run_this_session": sorted(phases.phases), "alpha": alpha_values(net),
              "phases": {str(k): str(v) for k, v in phases.phases.items()}}
    os.makedirs(write_dir, exist_ok=True)
    write_json_atomic(os.path.join(write_dir, "history.json"), record)
    path = zoo.export(net, os.path.join(scratch, "export") if scratch else config.export_dir, name=config.name,
                      metadata={"training": {"method": config.method, **config.as_dict()}, "metrics": metrics,
                                "alpha": record["alpha"], "provenance": origin, "history": history})
    if scratch:
        path = None  # a worker's export is scratch; the chief's is the run's
    else:
        backup.remove()  # only now: the export has landed
    return {"export_path": path, "metrics": metrics, "history": history, "phases": phases.phases,
            "trainer": trainer, "net": net}
