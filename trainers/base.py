"""One pattern for every training method: a ``keras.Model`` that wraps a zoo model and owns ``train_step``.

``fit`` then brings progress bars, callbacks (checkpoints through ``trainers.callbacks.RunBackup``,
TensorBoard) and ``tf.distribute``.
A method subclasses ``Trainer`` and defines ``objective`` (losses and logits of one mini-batch); ANP,
which updates the weights k times per mini-batch, overrides ``train_step`` itself.

Optimisation follows the papers' PyTorch code: SGD with momentum (optionally Nesterov) and *coupled*
L2 weight decay (the gradient of 0.5 * wd * ||w||^2 is added to the loss gradient, as
``torch.optim.SGD(weight_decay=...)`` does), applied to every trainable variable except PNI's
alphas (PNI sec. 3.1: "there is no weight decay term on the alpha").

Training phases (adversarial training starting after some clean epochs; ANP's three phases) are a
Python value per epoch: ``PhaseScheduler`` sets it at the start of an epoch and re-traces the train
function when it changes, so each phase runs a fixed, unrolled graph.

The training adversary (PGD of PAT, PNI and RobustNet Adv.; Step-LL of NAT and EAT) sees the model
as the official PNI code's ``Attack.pgd`` does: ``model.eval()``, i.e. batch norm with its moving
statistics, while every noise source stays exactly as in a training call (PNI eq. 12: the noise is
on). ``--attack_bn=train`` gives the other choice: batch statistics of the attacked batch, with the
moving statistics restored afterwards.
"""
import contextlib

import keras
import tensorflow as tf

from zoo import adversarial
from zoo.layers import inject_noise, is_alpha
from zoo.noise_control import no_noise, zoo_layers
from zoo.registry import Registry

TRAINERS = Registry("training method")  # method name -> Trainer subclass


def register(name):
    """Register a Trainer subclass under a method name (``--method`` / ``python -m trainers.<name>``)."""

    def wrap(cls):
        TRAINERS.register(name, cls)  # ValueError when the name is taken
        cls.method = name
        return cls

    return wrap


def replica_scale(loss):
    """Loss of one replica for a global mean: divided by the number of replicas (tf.distribute)."""
    return loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)


def is_multi_worker(strategy):
    """Whether ``strategy`` spans several processes (MultiWorkerMirroredStrategy with a TF_CONFIG cluster)."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


def synced(logs):
    """The logs of a step, shaped for Keras' cross-replica reduction.

    Under MultiWorkerMirroredStrategy, Keras 3.15 reduces every log with ``strategy.reduce("MEAN", v, axis=0)``
    (``reduce_per_replica``, whatever ``distribute_reduction_method`` says), which fails on a scalar
    (tensorflow/tensorflow#72388). Each log becomes a vector of one element there, whose reduction along axis 0
    is the mean over the replicas: a scalar again. Other strategies get the logs unchanged.
    """
    if not is_multi_worker(tf.distribute.get_strategy()):
        return logs
    return {k: tf.reshape(v, [1]) for k, v in logs.items()}


def xent(labels, logits):
    """Mean sparse softmax cross-entropy, computed in float32."""
    return tf.reduce_mean(adversarial.per_example_xent(labels, logits))


@contextlib.contextmanager
def training_noise(model):
    """Within the block, a ``training=False`` call draws exactly the noise a ``training=True`` call draws.

    Noise layers decide at trace time from ``training`` and their ``inference_noise`` switch; here each
    random layer's ``inference_noise`` is set to what it does in training (PNI, RobustNet noise: on;
    ParamNet with ``train_noise=False`` or a layer under ``zoo.no_noise``: off) and restored after.
    """
    layers = [layer for layer in zoo_layers(model) if layer.is_random]
    saved = [layer.inference_noise for layer in layers]
    for layer in layers:
        layer.inference_noise = bool(layer.noise_active(True))
    try:
        yield model
    finally:
        for layer, state in zip(layers, saved):
            layer.inference_noise = state


@contextlib.contextmanager
def frozen_batch_norm(model):
    """Batch norm in training mode without moving-statistics updates for the block (``--attack_bn=train``).

    The moving statistics are read before the block and written back after it, so an attack on batch
    statistics leaves the model's running statistics untouched. (The official PNI code instead
    attacks in ``model.eval()`` mode, this project's default ``--attack_bn=eval``.)
    """
    bns = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [(v, tf.identity(v)) for layer in bns for v in (layer.moving_mean, layer.moving_variance)]
    try:
        yield
    finally:
        for variable, value in saved:
            variable.assign(value)


class Trainer(keras.Model):
    """Plain training; subclasses change ``objective`` (and ``phase_for_epoch``)."""

    method = "vanilla"
    adversarial = False

    def __init__(self, net, config, **kwargs):
        super().__init__(name=f"{self.method}_trainer", **kwargs)
        self.net = net
        self.config = config
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.clean_acc = keras.metrics.SparseCategoricalAccuracy(name="clean_acc")
        self.adv_acc = keras.metrics.SparseCategoricalAccuracy(name="adv_acc") if self.adversarial else None
        self.phase = self.phase_for_epoch(0)
        self.built = True  # the wrapped net is built; checkpoints (RunBackup) need a built model

    # ----- what a method defines ------------------------------------------------------------
    @classmethod
    def model_options(cls, config):
        """Keyword arguments for ``zoo.create``: the config's Variant fields (a method can force its variant);
        ``mean``/``std`` are the dataset's (``trainers.run.build``)."""
        from trainers.config import VARIANT_FIELDS
        return {name: getattr(config.variant, name) for name in VARIANT_FIELDS}

    def phase_for_epoch(self, epoch):
        """A hashable Python value; a change re-traces the train step. Default: adversarial after a delay."""
        return self.adversarial and epoch >= self.config.adv_start_epoch

    def objective(self, x, y):
        """(loss, clean logits, adversarial logits or None) of one mini-batch, under the caller's tape."""
        logits = self.net(x, training=True)
        return xent(y, logits), logits, None

    # ----- shared machinery --------------------------------------------------------------------
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Build the optimizer under the strategy without drawing a batch from the training data.

        Keras 3.15 builds a model under a tf.distribute strategy from a first batch, taken from a fresh iterator of
        the training data and reduced with ``strategy.reduce("MEAN", batch)``: that extra iterator moves the
        shuffle and augmentation streams (a distributed run would then see other batches than a single process),
        and MultiWorkerMirroredStrategy's collective reduce cannot take a structure of PerReplica values
        (tensorflow/tensorflow#72388). A trainer's net is built and it compiles no loss or metric, so no batch is
        needed; otherwise the first local replica's part of the batch serves (it only gives shapes).
        """
        if self._distribute_strategy is None:
            return
        needs_batch = (not all(layer.built for layer in self._flatten_layers())
                       or self._compile_metrics is not None or self._compile_loss is not None)
        if needs_batch and data_batch is None and iterator is not None:
            for _, _, it in iterator:
                data_batch = keras.tree.map_structure(
                    lambda v: (self._distribute_strategy.experimental_local_results(v)[0]
                               if isinstance(v, tf.distribute.DistributedValues) else v), next(it))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    @property
    def metrics(self):
        return [m for m in (self.loss_tracker, self.clean_acc, self.adv_acc) if m is not None]

    def call(self, x, training=False):
        return self.net(x, training=training)

    def attack_fn(self, noise=True):
        """The model as the training adversary sees it (see the module doc).

        ``--attack_bn=eval`` (default): ``training=False``, so batch norm uses its moving statistics
        (the official PNI code's ``model.eval()`` in ``Attack.pgd``), with the noise as in training.
        ``--attack_bn=train``: ``training=True`` (batch statistics). ``noise=False`` turns every noise
        source off (PNI Table 1, "without PNI in x_adv generation").
        """
        train_bn = self.config.attack_bn == "train"

        def model_fn(z):
            with no_noise(self.net) if not noise else contextlib.nullcontext():
                if train_bn:
                    return self.net(z, training=True)
                with training_noise(self.net):
                    return self.net(z, training=False)

        return model_fn

    @contextlib.contextmanager
    def crafting(self):
        """Context of any training adversary: the outer training tape paused (x_adv enters the loss as a
        constant) and, with ``--attack_bn=train``, the batch-norm moving statistics restored afterwards."""
        tape = getattr(self, "_active_tape", None)
        paused = tape.stop_recording() if tape is not None else contextlib.nullcontext()
        frozen = frozen_batch_norm(self.net) if self.config.attack_bn == "train" else contextlib.nullcontext()
        with paused, frozen:
            yield

    def craft(self, attack, *args, **kwargs):
        """Run an attack from ``zoo.adversarial`` inside ``crafting()``."""
        with self.crafting():
            return getattr(adversarial, attack)(*args, **kwargs)

    def pgd(self, x, labels, noise=True):
        """PGD-k L-inf with random start on ``attack_fn(noise)`` (Madry et al.; PNI eq. 12): eps 8/255, step
        0.01, 7 steps by default (Study sec. 3.7; the official PNI code's ``pgd(k=7, a=0.01)``)."""
        c = self.config
        return self.craft("pgd_linf", self.attack_fn(noise), x, labels, c.eps, c.step_size, c.steps,
                          random_start=c.random_start)

    def decayed_variables(self):
        return [v for v in self.net.trainable_variables if not is_alpha(v)]

    def l2_penalty(self):
        if not self.config.weight_decay:
            return 0.0
        return 0.5 * self.config.weight_decay * tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32)))
                                                          for v in self.decayed_variables()])

    def apply_update(self, tape, loss, extra_sources=()):
        """Gradient step on the net's variables for ``loss`` (+ L2); returns gradients of ``extra_sources``."""
        variables = self.net.trainable_variables
        grads = tape.gradient(loss, list(variables) + list(extra_sources))
        self.optimizer.apply_gradients(zip(grads[:len(variables)], variables))
        return grads[len(variables):]

    def register_step(self, x, y, registers, noise):
        """One update with ``noise[m]`` injected at ``registers[m]`` (ANP Alg. 1 lines 3-8; LAT).

        Returns (loss, logits, dL/dnoise): the noise gradient is dL/dz_m of the same backward pass.
        """
        with tf.GradientTape() as tape:
            tape.watch(noise)
            with inject_noise({reg.name: n for reg, n in zip(registers, noise)}):
                logits = self.net(x, training=True)
            loss = xent(y, logits)
            total = self.total_loss(loss)
        return loss, logits, self.apply_update(tape, total, noise)

    def total_loss(self, loss):
        return self.optimizer.scale_loss(replica_scale(loss + self.l2_penalty()))

    def update_metrics(self, loss, y, clean_logits, adv_logits):
        self.loss_tracker.update_state(loss)
        if clean_logits is not None:
            self.clean_acc.update_state(y, tf.cast(clean_logits, tf.float32))
        if self.adv_acc is not None and adv_logits is not None:
            self.adv_acc.update_state(y, tf.cast(adv_logits, tf.float32))
        return synced({m.name: m.result() for m in self.metrics})

    @contextlib.contextmanager
    def recording(self, tape):
        """Make ``tape`` the one ``craft`` pauses (trace-time state, not tracked by Keras)."""
        object.__setattr__(self, "_active_tape", tape)
        try:
            yield tape
        finally:
            object.__setattr__(self, "_active_tape", None)

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape, self.recording(tape):
            loss, clean_logits, adv_logits = self.objective(x, y)
            total = self.total_loss(loss)
        self.apply_update(tape, total)
        return self.update_metrics(loss, y, clean_logits, adv_logits)

    def test_step(self, data):
        """Clean evaluation of the model as served (noise as at inference)."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        logits = self.net(x, training=False)
        self.loss_tracker.update_state(xent(y, logits))
        self.clean_acc.update_state(y, tf.cast(logits, tf.float32))
        return synced({"loss": self.loss_tracker.result(), "clean_acc": self.clean_acc.result()})


class AdversarialTrainer(Trainer):
    """PGD adversarial training (Madry et al. 2018, "PAT" in ANP): loss on PGD-k examples.

    ``adv_ratio`` r mixes clean and adversarial losses: (1 - r) * L(x) + r * L(x_adv) (r = 1: Madry).
    Before ``adv_start_epoch`` the model trains on clean data.
    """

    adversarial = True

    def objective(self, x, y):
        if not self.phase:
            return super().objective(x, y)
        r = self.config.adv_ratio
        x_adv = self.pgd(x, y)
        adv_logits = self.net(x_adv, training=True)
        if r < 1.0:
            clean_logits = self.net(x, training=True)
            loss = (1.0 - r) * xent(y, clean_logits) + r * xent(y, adv_logits)
        else:
            with self._active_tape.stop_recording():  # for the clean_acc metric only
                clean_logits = self.net(x, training=False)
            loss = xent(y, adv_logits)
        return loss, clean_logits, adv_logits
