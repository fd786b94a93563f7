"""The trainers' command line: flags -> TrainConfig -> ``trainers.run.train`` (one-line usage errors).

    python -m trainers.<method> --flagfile=configs/<setup>.cfg [--flag=value ...]
    python -m trainers --method=<method> --flagfile=configs/<setup>.cfg [--flag=value ...]

Usage errors print one line and exit with status 2; a diverged run, and a multi-worker run that lost a
worker, exit with 1 (one line; rerunning the same command resumes).
"""
import dataclasses
import os
import sys

from absl import flags

from trainers.base import TRAINERS
from trainers.callbacks import RunBackup, TrainingDiverged
from trainers.config import VARIANT_FIELDS, AnpPhase, TrainConfig, flat_fields, validate
from trainers.run import check_run_dirs, train
from zoo.cli import define_pixels, number_list
from zoo.errors import ZooError
from zoo.models import Variant

FLAGS = flags.FLAGS
_D = TrainConfig()


def _define_field(field, default):
    """One flag for a dataclass field that has a help: the DEFINE_* picked from the default's type (a None
    default: the annotation's), a closed set of ``choices`` as an enum parser (the help stays as written)."""
    name, help, choices = field.name, field.metadata["help"], field.metadata.get("choices")
    if choices:  # a bad value: "flag --name=x: value should be one of <a|b>", one line, exit 2 (zoo.cli)
        flags.DEFINE(flags.EnumParser(choices), name, default, help, serializer=flags.ArgumentSerializer())
        return
    if field.metadata.get("pixels"):  # 0.0314 or 8/255 (zoo.threat); the range is checked by validate()
        define_pixels(name, default, help)
        return
    kind = type(default) if default is not None else field.type
    define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float}.get(kind)
    (define or flags.DEFINE_string)(name, default, help)


def define_flags():
    """All trainer flags, each named like its TrainConfig field (the Variant fields for ``variant``) and made
    from it (defined once per process); lists and ``jit_compile`` are written out."""
    if "model" in FLAGS:
        return
    lst = flags.DEFINE_list
    for field in dataclasses.fields(TrainConfig):
        name = field.name
        if name == "variant":
            for vf in dataclasses.fields(Variant):
                if vf.name in VARIANT_FIELDS:
                    _define_field(vf, getattr(_D.variant, vf.name))
        elif name == "lr_boundaries":
            lst(name, [str(x) for x in _D.lr_boundaries], field.metadata["help"])
        elif name == "anp_phases":
            lst("anp_eta", [str(p.eta) for p in _D.anp_phases], "ANP: eta of each phase")
            lst("anp_eps", [str(p.eps) for p in _D.anp_phases], "ANP: eps of each phase")
            lst("anp_k", [str(p.k) for p in _D.anp_phases], "ANP: progressive steps k of each phase")
            lst("anp_phase_epochs", [str(p.epochs) for p in _D.anp_phases], "ANP: epochs of each phase")
        elif name == "eat_holdout":
            lst(name, [], field.metadata["help"])
        elif name == "jit_compile":  # auto | on | off, and true/false/1/0/yes/no (trainers.jit.parse_mode)
            flags.DEFINE_string(name, _D.jit_compile, field.metadata["help"])
        elif "help" in field.metadata:
            _define_field(field, getattr(_D, name))
    flags.DEFINE_integer("verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch")


def config_from_flags(method):
    values = {name: FLAGS[name].value for name in flat_fields() if name in FLAGS}
    values["lr_boundaries"] = number_list("lr_boundaries", FLAGS.lr_boundaries, int)
    etas, epss = number_list("anp_eta", FLAGS.anp_eta, float), number_list("anp_eps", FLAGS.anp_eps, float)
    ks, lens = number_list("anp_k", FLAGS.anp_k, int), number_list("anp_phase_epochs", FLAGS.anp_phase_epochs, int)
    if not len(etas) == len(epss) == len(ks) == len(lens):
        raise ZooError(f"--anp_eta/--anp_eps/--anp_k/--anp_phase_epochs have {len(etas)}/{len(epss)}/{len(ks)}/"
                       f"{len(lens)} entries: expected one per phase")
    values["anp_phases"] = tuple(AnpPhase(*p) for p in zip(etas, epss, ks, lens))
    values["eat_holdout"] = tuple(FLAGS.eat_holdout)
    return TrainConfig.from_flat(method=method, **values)


def _diverged_message(config, err):
    backup = RunBackup(os.path.join(config.run_dir, config.name, "backup"))
    state = backup.read()
    kept = (f"the last good checkpoint (epoch {state['epoch']}) is kept in {backup.backup_dir}" if state else
            "no checkpoint was saved before it (it diverged in the first epoch of this run)")
    return f"error: training diverged: {err}; {kept}; nothing was exported"


def _lost_worker_message(config, err):
    """One line for a multi-worker run whose peer stopped (TensorFlow aborts the collectives of the others)."""
    state = RunBackup(os.path.join(config.run_dir, config.name, "backup")).read()
    kept = f"the chief's backup holds epoch {state['epoch']}" if state else "no epoch had finished"
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    first = next((line for line in lines if any(w in line.lower() for w in ("unhealthy", "aborted", "crashed"))),
                 lines[-1])[:200]
    return (f"error: a worker of the multi-worker run stopped ({type(err).__name__}: {first}); {kept}; "
            "rerun the same command on every worker to resume")


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
    except Exception as err:  # a lost peer aborts the collectives of a multi-worker run: say so in one line
        import tensorflow as tf
        lost = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError,
                tf.errors.CancelledError)
        if config is None or config.strategy != "multi_worker" or not isinstance(err, lost):
            raise
        print(_lost_worker_message(config, err), file=sys.stderr)
        sys.exit(1)
    m = result["metrics"]
    extra = f", deterministic {m['test_acc_deterministic']:.4f}" if "test_acc_deterministic" in m else ""
    where = (f"exported {result['export_path']}" if result["export_path"]
             else "a multi-worker run's worker: the chief exports")
    print(f"{method}: test accuracy {m['test_acc']:.4f}{extra} in {m['train_seconds']:.0f} s; {where}")


def main(argv=None):
    """``python -m trainers --method=<method> ...``: the method as a flag."""
    argv = list(sys.argv if argv is None else argv)
    rest, method = [], ""
    for arg in argv[1:]:
        if arg.startswith("--method="):
            method = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    try:
        TRAINERS.get(method, flag="method")  # ZooError: --method=x: expected one of ...
    except ZooError as err:
        from zoo.cli import usage_error
        usage_error(err)
    sys.argv = [argv[0], *rest]
    cli(method)
