"""Run a training method end to end: flags -> TrainConfig -> data, model, trainer -> fit -> export.

    python -m trainers.<method> --flagfile=configs/<setup>.cfg [--flag=value ...]

Every run keeps its state in ``<run_dir>/<name>/``: ``backup/`` (``RunBackup``: rerunning the
same command resumes after the last finished epoch, optimizer state, history and time included; removed
only once the export has landed), ``tensorboard/`` and ``history.json``.
At the end the model is exported to ``<export_dir>/<name>/<version>/`` with the flags and metrics
in its metadata. Usage errors print one line and exit with status 2; a diverged run exits with 1.
"""
import dataclasses
import math
import os
import sys

from absl import flags

from trainers import anp, eat, lat, nat, paramnet, pgd, pni, robustnet, vanilla  # noqa: F401  (registration)
from trainers.base import TRAINERS
from trainers.callbacks import (AlphaLogger, NonFiniteGuard, PhaseScheduler, RunBackup, TrainingDiverged, alpha_values,
                                non_finite_weights, write_json_atomic)
from trainers.config import STRATEGIES, AnpPhase, TrainConfig, check_paths, validate
from trainers.provenance import provenance
from zoo.errors import ZooError

FLAGS = flags.FLAGS
_D = TrainConfig()


def define_flags():
    """All trainer flags, each named like its TrainConfig field (defined once per process)."""
    if "model" in FLAGS:
        return
    s, f, i, b, lst = flags.DEFINE_string, flags.DEFINE_float, flags.DEFINE_integer, flags.DEFINE_bool, flags.DEFINE_list
    s("model", _D.model, "zoo model name (see zoo.list_models())")
    f("width", _D.width, "width multiplier (PNI Table 3: 1, 1.5, 2, 4)")
    s("pni", _D.pni, "PNI variant: W, A-a, A-b, I, W+A-a, W+A-b (PNI Table 2); the pni method defaults to W")
    s("pni_granularity", _D.pni_granularity, "layerwise | channelwise | elementwise")
    b("robustnet", _D.robustnet, "Gaussian noise layer before every conv (RobustNet)")
    f("sigma_init", _D.sigma_init, "RobustNet noise std before the first conv")
    f("sigma_inner", _D.sigma_inner, "RobustNet noise std before the other convs")
    i("anp_layers", _D.anp_layers, "ANP/LAT: noise registers on the first m hidden layers (top-m)")
    s("channel", _D.channel, "input channel spec, e.g. color_depth:bits=4 or fft_compress:fraction=0.7")
    f("paramnet", _D.paramnet, "ParamNet: fixed weight noise of std sigma * std(w) on every conv/dense (Study 3.6)")
    b("paramnet_train_noise", _D.paramnet_train_noise, "ParamNet: noise in training too (off: inference only)")
    s("fft_layers", _D.fft_layers, "band-limited convs: FFTCompress before 'input' (first conv), 'all', or "
      "conv indices '0,3,5' (Study App. E.1.1)")
    f("fft_fraction", _D.fft_fraction, "band-limited convs: kept fraction of each spectrum (1 - compression rate)")
    f("hidden_noise", _D.hidden_noise, "Gaussian noise std on every hidden layer's pre-activation (ANP baseline)")
    s("dataset", _D.dataset, "digits | cifar10 | svhn_cropped | mnist | imagenet2012 | imagenette | a TFDS "
                                "prepared-dataset directory")
    s("data_dir", _D.data_dir, "TFDS data_dir for named datasets")
    s("train_split", _D.train_split, "training split (TFDS slicing allowed, e.g. train[:500])")
    s("eval_split", _D.eval_split, "evaluation split")
    i("num_train_examples", _D.num_train_examples, "use only the first N training examples")
    i("num_eval_examples", _D.num_eval_examples, "use only the first N evaluation examples")
    b("augment", _D.augment, "training augmentation: cifar = pad 4 + random crop + flip; imagenet = "
                             "random-resized crop + flip")
    s("preprocess", _D.preprocess, "cifar | imagenet (train: random-resized crop; eval: resize 256, centre "
                                   "crop 224); default: imagenet for datasets of varied image sizes")
    i("image_size", _D.image_size, "imagenet geometry: output side (default 224)")
    i("batch_size", _D.batch_size, "global batch size")
    i("epochs", _D.epochs, "number of epochs")
    f("lr", _D.lr, "initial learning rate")
    lst("lr_boundaries", [str(x) for x in _D.lr_boundaries], "epochs at which the lr is multiplied by lr_decay")
    f("lr_decay", _D.lr_decay, "lr multiplier at each boundary")
    s("lr_schedule", _D.lr_schedule, "step (x lr_decay at each of lr_boundaries: the papers') | cosine (linear "
      "warm-up over --warmup_epochs, then cosine to 0 at the last epoch: for short budgets)")
    i("warmup_epochs", _D.warmup_epochs, "epochs of linear lr warm-up (step and cosine schedules)")
    f("momentum", _D.momentum, "SGD momentum")
    b("nesterov", _D.nesterov, "Nesterov momentum (the PNI code uses it)")
    f("weight_decay", _D.weight_decay, "coupled L2 weight decay, never applied to PNI alphas")
    f("eps", _D.eps, "L-inf budget of the training adversary, pixel scale (8/255 = 0.0314)")
    f("step_size", _D.step_size, "PGD step size (0.01 = 2.55/255, Study sec. 3.7 and the PNI code; ANP: 2/255)")
    i("steps", _D.steps, "PGD steps k")
    b("random_start", _D.random_start, "PGD random start")
    s("attack_bn", _D.attack_bn, "batch norm while crafting training adversaries: eval (moving statistics, as "
      "the PNI code's model.eval()) | train (batch statistics, moving statistics left untouched)")
    f("adv_ratio", _D.adv_ratio, "pgd/robustnet: weight r of L(x_adv) in (1-r)L(x) + rL(x_adv)")
    i("adv_start_epoch", _D.adv_start_epoch, "clean epochs before adversarial training starts")
    b("adversarial", _D.adversarial, "robustnet: add PGD adversarial training (RobustNet Adv.)")
    f("w_clean", _D.w_clean, "PNI eq. 11 weight of the clean loss")
    f("w_adv", _D.w_adv, "PNI eq. 11 weight of the adversarial loss")
    b("pni_attack_noise", _D.pni_attack_noise, "PNI: keep the noise on while crafting x_adv (eq. 12)")
    i("anp_clean_epochs", _D.anp_clean_epochs, "ANP: clean epochs before the noise phases")
    lst("anp_eta", [str(p.eta) for p in _D.anp_phases], "ANP: eta of each phase")
    lst("anp_eps", [str(p.eps) for p in _D.anp_phases], "ANP: eps of each phase")
    lst("anp_k", [str(p.k) for p in _D.anp_phases], "ANP: progressive steps k of each phase")
    lst("anp_phase_epochs", [str(p.epochs) for p in _D.anp_phases], "ANP: epochs of each phase")
    f("train_input_noise", _D.train_input_noise, "vanilla/paramnet: std of Gaussian noise added to training "
      "images (pixel scale, training only; ANP's input-noise baseline)")
    f("nat_eps_std", _D.nat_eps_std, "NAT: std of the per-example eps (truncated at 2 std)")
    lst("eat_holdout", [], "EAT: SavedModel directories of static hold-out models")
    f("lat_eps", _D.lat_eps, "LAT: hidden-layer noise magnitude")
    i("seed", _D.seed, "random seed")
    b("jit_compile", _D.jit_compile, "compile the train step with XLA")
    b("mixed_precision", _D.mixed_precision, "mixed_float16 compute (for GPUs)")
    s("strategy", _D.strategy, "tf.distribute strategy: " + " | ".join(STRATEGIES))
    s("export_dir", _D.export_dir, "where SavedModels are written (<export_dir>/<name>/<version>)")
    s("export_name", _D.export_name, "model name under export_dir (default <method>_<model>)")
    s("run_dir", _D.run_dir, "checkpoints, TensorBoard logs and history live in <run_dir>/<name>")
    i("verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch")


def _numbers(flag, values, cast):
    try:
        return tuple(cast(v) for v in values)
    except ValueError:
        raise ZooError(f"--{flag}={','.join(values)}: expected a comma-separated list of numbers") from None


def config_from_flags(method):
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {name: FLAGS[name].value for name in fields if name in FLAGS}
    values["lr_boundaries"] = _numbers("lr_boundaries", FLAGS.lr_boundaries, int)
    etas, epss = _numbers("anp_eta", FLAGS.anp_eta, float), _numbers("anp_eps", FLAGS.anp_eps, float)
    ks, lens = _numbers("anp_k", FLAGS.anp_k, int), _numbers("anp_phase_epochs", FLAGS.anp_phase_epochs, int)
    if not len(etas) == len(epss) == len(ks) == len(lens):
        raise ZooError(f"--anp_eta/--anp_eps/--anp_k/--anp_phase_epochs have {len(etas)}/{len(epss)}/{len(ks)}/"
                       f"{len(lens)} entries: expected one per phase")
    values["anp_phases"] = tuple(AnpPhase(*p) for p in zip(etas, epss, ks, lens))
    values["eat_holdout"] = tuple(FLAGS.eat_holdout)
    return TrainConfig(method=method, **values)


def make_strategy(name):
    import tensorflow as tf
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    return tf.distribute.get_strategy()


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
    """(trainer, net, datasets) for a validated config, created under the strategy's scope."""
    import keras

    import zoo
    from zoo import data

    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if config.mixed_precision else "float32")
    info = data.info(config.dataset, data_dir=config.data_dir, preprocess=config.preprocess,
                     image_size=config.image_size)
    common = dict(batch_size=config.batch_size, data_dir=config.data_dir, seed=config.seed,
                  preprocess=config.preprocess, image_size=config.image_size)
    train_ds = data.load(config.dataset, config.train_split, augment=config.augment,
                         num_examples=config.num_train_examples, **common)
    eval_ds = data.load(config.dataset, config.eval_split, num_examples=config.num_eval_examples, **common)
    strategy = strategy or make_strategy(config.strategy)
    cls = TRAINERS[config.method]
    with strategy.scope():
        net = zoo.create(config.model, num_classes=info.num_classes, input_shape=info.input_shape,
                         mean=info.mean, std=info.std, **cls.model_options(config))
        trainer = cls(net, config)
        trainer.compile(optimizer=keras.optimizers.SGD(learning_rate=config.lr, momentum=config.momentum,
                                                       nesterov=config.nesterov),
                        jit_compile=config.jit_compile)
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
    import keras

    import zoo
    validate(config, zoo.list_models(), TRAINERS)
    check_run_dirs(config)
    run_dir = os.path.join(config.run_dir, config.name)
    trainer, net, train_ds, eval_ds = build(config, strategy)
    phases = PhaseScheduler()
    backup = RunBackup(os.path.join(run_dir, "backup"))
    callbacks = [
        phases,
        keras.callbacks.LearningRateScheduler(lambda epoch: lr_at(config, epoch)),
        NonFiniteGuard(net),  # before the backup: a diverged epoch is never saved
        AlphaLogger(net, run_dir),  # before the backup: the alphas go into the saved history
        backup,
        *extra_callbacks,
        keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")),
    ]
    _fast_forward(train_ds, backup.read())
    trainer.fit(train_ds, epochs=config.epochs, validation_data=eval_ds, callbacks=callbacks,
                verbose=verbose, shuffle=False)  # the tf.data pipeline shuffles
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
    origin = provenance()
    record = {"config": config.as_dict(), "history": history, "metrics": metrics, "provenance": origin,
              "epochs_run_this_session": sorted(phases.phases), "alpha": alpha_values(net),
              "phases": {str(k): str(v) for k, v in phases.phases.items()}}
    os.makedirs(run_dir, exist_ok=True)
    write_json_atomic(os.path.join(run_dir, "history.json"), record)
    path = zoo.export(net, config.export_dir, name=config.name,
                      metadata={"training": {"method": config.method, **config.as_dict()}, "metrics": metrics,
                                "alpha": record["alpha"], "provenance": origin, "history": history})
    backup.remove()  # only now: the export has landed
    return {"export_path": path, "metrics": metrics, "history": history, "phases": phases.phases,
            "trainer": trainer, "net": net}


def _diverged_message(config, err):
    backup = RunBackup(os.path.join(config.run_dir, config.name, "backup"))
    state = backup.read()
    kept = (f"the last good checkpoint (epoch {state['epoch']}) is kept in {backup.backup_dir}" if state else
            "no checkpoint was saved before it (it diverged in the first epoch of this run)")
    return f"error: training diverged: {err}; {kept}; nothing was exported"


def prepare(method, argv=None):
    """Parse the command line (``sys.argv`` by default) into a validated ``TrainConfig`` whose run and export
    directories exist and are writable. Usage errors raise ``ZooError`` (or exit 2 from the flag parser)."""
    from zoo.cli import parse_flags
    import zoo
    define_flags()
    parse_flags(argv)
    config = config_from_flags(method)
    validate(config, zoo.list_models(), TRAINERS)
    check_run_dirs(config)
    return config


def cli(method):
    """Entry point of ``python -m trainers.<method>``."""
    from zoo.cli import usage_error
    config = None
    try:
        config = prepare(method)
        result = train(config, verbose=FLAGS.verbose)
    except ZooError as err:
        usage_error(err)
    except TrainingDiverged as err:
        print(_diverged_message(config, err), file=sys.stderr)
        sys.exit(1)
    m = result["metrics"]
    extra = f", deterministic {m['test_acc_deterministic']:.4f}" if "test_acc_deterministic" in m else ""
    print(f"{method}: test accuracy {m['test_acc']:.4f}{extra} in {m['train_seconds']:.0f} s; "
          f"exported {result['export_path']}")
