"""The trainers' command line: flags -> TrainConfig -> ``trainers.run.train`` (one-line usage errors).

    python -m trainers.<method> --flagfile=configs/<setup>.cfg [--flag=value ...]
    python -m trainers --method=<method> --flagfile=configs/<setup>.cfg [--flag=value ...]

Usage errors print one line and exit with status 2; a diverged run exits with 1.
"""
import dataclasses
import os
import sys

from absl import flags

from trainers.base import TRAINERS
from trainers.callbacks import RunBackup, TrainingDiverged
from trainers.config import STRATEGIES, AnpPhase, TrainConfig, validate
from trainers.run import check_run_dirs, train
from zoo.cli import number_list
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
    f("pni_alpha_init", _D.pni_alpha_init, "PNI: initial alpha of every noise scale (PNI sec. 3.1: 0.25)")
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
    s("jit_compile", _D.jit_compile, "XLA for the train step: auto (time a few steps each way on this CPU, keep "
      "the faster; cached per CPU), on or off")
    b("mixed_precision", _D.mixed_precision, "mixed_float16 compute (for GPUs)")
    s("strategy", _D.strategy, "tf.distribute strategy: " + " | ".join(STRATEGIES))
    s("export_dir", _D.export_dir, "where SavedModels are written (<export_dir>/<name>/<version>)")
    s("export_name", _D.export_name, "model name under export_dir (default <method>_<model>)")
    s("run_dir", _D.run_dir, "checkpoints, TensorBoard logs and history live in <run_dir>/<name>")
    i("verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch")


def config_from_flags(method):
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {name: FLAGS[name].value for name in fields if name in FLAGS}
    values["lr_boundaries"] = number_list("lr_boundaries", FLAGS.lr_boundaries, int)
    etas, epss = number_list("anp_eta", FLAGS.anp_eta, float), number_list("anp_eps", FLAGS.anp_eps, float)
    ks, lens = number_list("anp_k", FLAGS.anp_k, int), number_list("anp_phase_epochs", FLAGS.anp_phase_epochs, int)
    if not len(etas) == len(epss) == len(ks) == len(lens):
        raise ZooError(f"--anp_eta/--anp_eps/--anp_k/--anp_phase_epochs have {len(etas)}/{len(epss)}/{len(ks)}/"
                       f"{len(lens)} entries: expected one per phase")
    values["anp_phases"] = tuple(AnpPhase(*p) for p in zip(etas, epss, ks, lens))
    values["eat_holdout"] = tuple(FLAGS.eat_holdout)
    return TrainConfig(method=method, **values)


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


def main(argv=None):
    """``python -m trainers --method=<method> ...``: the method as a flag."""
    argv = list(sys.argv if argv is None else argv)
    methods = ", ".join(sorted(TRAINERS))
    rest, method = [], None
    for arg in argv[1:]:
        if arg.startswith("--method="):
            method = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if method not in TRAINERS:
        from zoo.cli import usage_error
        usage_error(ZooError(f"--method={method if method is not None else ''}: expected one of {methods}"))
    sys.argv = [argv[0], *rest]
    cli(method)
