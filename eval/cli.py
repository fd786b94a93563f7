"""``python -m eval``: attack served models and write report.json, report.md and PNG plots.

    python -m eval --model=exported_models/pni_w_resnet20_cifar10/1 [--model=...] \
        --dataset=cifar10 --split=test --num_examples=500 \
        --suite=whitebox,blackbox,transfer,obfuscation,channels --report_dir=reports/pni

The model's metadata says whether it is random (then EOT and mean±std over trials are applied) and
whether it has non-differentiable parts (then BPDA); ``--eot``, ``--trials``, ``--bpda`` override.
``--eot_mode=gradient|logits`` picks Athalye et al.'s EOT (mean of per-draw loss gradients, default)
or the gradient of averaged logits; ``--protocol=pni`` is PNI's tables (EOT 1, 5 trials);
``--noise=on|off|both`` evaluates the models as served, with their noise off, or both.
Usage errors print one line and exit with status 2.
"""
import datetime
import os

from absl import flags

from eval.runner import run  # noqa: F401  (eval.cli.run: the name callers used before eval.runner)
from zoo.cli import define_pixels, number_list
from zoo.errors import ZooError
from zoo.threat import EPS_SWEEP, L2, LINF, format_pixels, parse_pixels, pixel_list

FLAGS = flags.FLAGS


def define_flags():
    if "suite" in FLAGS:
        return
    flags.DEFINE_multi_string("model", [], "SavedModel version directory or .keras file (repeatable)")
    flags.DEFINE_string("dataset", "cifar10", "digits | cifar10 | svhn_cropped | mnist | TFDS prepared-dataset dir")
    flags.DEFINE_string("data_dir", None, "TFDS data_dir for named datasets")
    flags.DEFINE_string("split", "test", "split to evaluate on")
    flags.DEFINE_integer("num_examples", 500, "number of examples (the first N of the split)")
    flags.DEFINE_list("suite", ["whitebox"], "suites: whitebox, autoattack, blackbox, transfer, obfuscation, channels, corruption, "
                      "perturbation_seq, boundary, insensitivity, analysis, saliency")
    flags.DEFINE_string("report_dir", None, "where report.json/.md and plots go (default reports/<time>)")
    flags.DEFINE_integer("trials", None, "repetitions (default: 5 for random models, 1 otherwise)")
    flags.DEFINE_integer("eot", None, "EOT samples per gradient (default: 8 for random models, 1 otherwise)")
    flags.DEFINE_enum("eot_mode", "gradient", ["gradient", "logits"],
                      "EOT: mean of the per-draw loss gradients (Athalye et al. 2018) or gradient of the loss of "
                      "the averaged logits")
    flags.DEFINE_enum("protocol", "default", ["default", "pni"],
                      "pni: PNI's tables (sec. 4.1): one noise draw per attack step (--eot=1) and mean ± std "
                      "over 5 trials (--trials=5) for every model")
    flags.DEFINE_enum("noise", "on", ["on", "off", "both"],
                      "whitebox/blackbox/transfer/obfuscation: predict and attack with the noise as served (on), "
                      "off (PNI Table 2 'test without PNI'), or both (own rows, '<model> (noise off)')")
    flags.DEFINE_enum("bpda", "auto", ["auto", "on", "off"], "BPDA through non-differentiable channels")
    flags.DEFINE_list("attacks", ["fgsm", "pgd", "bim", "mifgsm", "step_ll", "pgd_l2", "cw_l2"],
                      "white-box attacks of the whitebox suite")
    define_pixels("eps", LINF.eps, "L-inf budget, pixel scale: 0.0314 or 8/255 (zoo.threat)")
    define_pixels("step_size", LINF.step_size, "PGD step size, pixel scale: 0.0078 or 2/255")
    flags.DEFINE_list("steps", ["7", "20"], "PGD step counts of the whitebox table")
    flags.DEFINE_list("steps_list", ["1", "7", "20", "40", "100"], "PGD steps of the accuracy-vs-steps curve")
    flags.DEFINE_list("eps_list", [format_pixels(e) for e in EPS_SWEEP], "eps values of the accuracy-vs-eps curve, "
                      "pixel scale like --eps (0.0314 or 8/255)")
    flags.DEFINE_integer("cw_iterations", 10, "C&W gradient steps per binary-search step (PNI sec. 4.1: 10)")
    flags.DEFINE_bool("majority_vote", False, "also report the majority vote over --votes passes (Study D.4)")
    flags.DEFINE_integer("votes", 9, "stochastic passes for the majority vote")
    flags.DEFINE_integer("batch_size", 128, "attack batch size")
    flags.DEFINE_integer("seed", 0, "random seed")
    flags.DEFINE_string("cache_dir", None, "where generated CIFAR-10-C/-P arrays are cached "
                        "(default ~/.cache/robustness-zoo)")
    flags.DEFINE_string("baseline_model", None, "model name whose errors are the CE / FR baseline (100)")
    flags.DEFINE_string("baseline_report", None, "report.json of an earlier run that holds the baseline model")
    flags.DEFINE_integer("sequence_examples", 100, "images per CIFAR-10-P perturbation")
    flags.DEFINE_integer("boundary_examples", 50, "images for the worst-case boundary distance")
    flags.DEFINE_integer("directions", 32, "random orthogonal directions for W_f (ANP: 1000)")
    flags.DEFINE_enum("channel_attack", "cw_l2", ["cw_l2", "pgd"],
                      "channels suite transfer matrix: Study Table 1's adaptive C&W L2 (100 iterations, "
                      "5 binary-search steps, c0 0.01) or PGD L-inf (--eps, --step_size, max --steps)")
    flags.DEFINE_integer("channel_examples", None, "images of the channels suite (default: --num_examples; "
                         "Study Table 1: 2000)")
    flags.DEFINE_integer("insensitivity_examples", 100, "images for the insensitivity suite")
    flags.DEFINE_integer("analysis_examples", 64, "images for M1 / M2 of the analysis suite")
    flags.DEFINE_integer("gradient_norm_examples", 16, "images for the gradient norms under noise (analysis)")
    flags.DEFINE_enum("autoattack_version", "auto", ["auto", "standard", "rand"],
                      "autoattack suite: standard (APGD-CE, APGD-T, FAB-T, Square) for deterministic models, rand "
                      "(APGD-CE, APGD-DLR with EOT 20) for random ones; auto picks by the model's randomness")
    flags.DEFINE_enum("autoattack_norm", "linf", ["linf", "l2"], "autoattack suite: L-inf at --eps or L2 at --eps_l2 "
                      "(the same attacks in L2)")
    define_pixels("eps_l2", L2.eps, "L2 budget of the whitebox suite's pgd_l2 (20 steps of 0.1) and of "
                  "--autoattack_norm=l2, pixel scale (RobustBench CIFAR-10: 0.5)")
    flags.DEFINE_integer("apgd_iterations", 100, "APGD iterations per run (Croce & Hein 2020: 100)")
    flags.DEFINE_integer("square_queries", 5000, "Square Attack queries per example (AutoAttack: 5,000)")


def config_from_flags():
    from eval.attacks import list_attacks
    from eval.suites import SUITES, EvalConfig

    if not FLAGS.model:
        raise ZooError("--model is required: a shipped model's name (zoo.list_pretrained()), a SavedModel version "
                       "directory (exported_models/<name>/<version>) or a .keras file")
    for s in FLAGS.suite:
        SUITES.get(s, flag="suite")  # ZooError: --suite=x: expected one of ...
    for a in FLAGS.attacks:
        if a not in list_attacks():
            raise ZooError(f"--attacks={a}: unknown attack; expected one of {', '.join(list_attacks())}")
    parse_pixels("eps", FLAGS.eps)
    parse_pixels("step_size", FLAGS.step_size, positive=True)
    if FLAGS.num_examples < 1:
        raise ZooError(f"--num_examples={FLAGS.num_examples}: expected an integer >= 1")
    for flag in ("trials", "eot"):
        if getattr(FLAGS, flag) is not None and getattr(FLAGS, flag) < 1:
            raise ZooError(f"--{flag}={getattr(FLAGS, flag)}: expected an integer >= 1 (unset: 5 trials and 8 EOT "
                           "samples for random models, 1 otherwise)")
    for flag in ("batch_size", "votes", "cw_iterations", "sequence_examples", "boundary_examples", "directions",
                 "insensitivity_examples", "analysis_examples", "gradient_norm_examples", "apgd_iterations",
                 "square_queries"):
        if getattr(FLAGS, flag) < 1:
            raise ZooError(f"--{flag}={getattr(FLAGS, flag)}: expected an integer >= 1")
    for flag in ("steps", "steps_list"):
        bad = [k for k in number_list(flag, getattr(FLAGS, flag)) if k < 1]
        if bad or not getattr(FLAGS, flag):
            raise ZooError(f"--{flag}={','.join(getattr(FLAGS, flag))}: expected step counts >= 1 "
                           f"({bad[0] if bad else 'none'} given)")
    if FLAGS.channel_examples is not None and FLAGS.channel_examples < 1:
        raise ZooError(f"--channel_examples={FLAGS.channel_examples}: expected an integer >= 1 (default: all "
                       "--num_examples)")
    eps_list = pixel_list("eps_list", FLAGS.eps_list)
    from zoo.pretrained import resolve
    models = tuple(resolve(m) for m in FLAGS.model)  # a shipped model's name -> its SavedModel directory
    report_dir = FLAGS.report_dir or os.path.join("reports", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    config = EvalConfig(models=models, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, split=FLAGS.split,
                      num_examples=FLAGS.num_examples, suites=tuple(FLAGS.suite), report_dir=report_dir,
                      trials=FLAGS.trials, eot=FLAGS.eot, eot_mode=FLAGS.eot_mode, protocol=FLAGS.protocol,
                      noise=FLAGS.noise, bpda={"auto": None, "on": True, "off": False}[FLAGS.bpda],
                      seed=FLAGS.seed, batch_size=FLAGS.batch_size, eps=FLAGS.eps, step_size=FLAGS.step_size,
                      steps=number_list("steps", FLAGS.steps), eps_list=eps_list,
                      steps_list=number_list("steps_list", FLAGS.steps_list), attacks=tuple(FLAGS.attacks),
                      majority_vote=FLAGS.majority_vote, votes=FLAGS.votes, cw_iterations=FLAGS.cw_iterations,
                      channel_attack=FLAGS.channel_attack, channel_examples=FLAGS.channel_examples,
                      baseline_model=FLAGS.baseline_model, baseline_report=FLAGS.baseline_report,
                      sequence_examples=FLAGS.sequence_examples, boundary_examples=FLAGS.boundary_examples,
                      directions=FLAGS.directions, insensitivity_examples=FLAGS.insensitivity_examples,
                      analysis_examples=FLAGS.analysis_examples, gradient_norm_examples=FLAGS.gradient_norm_examples,
                      autoattack_version=FLAGS.autoattack_version, autoattack_norm=FLAGS.autoattack_norm,
                      eps_l2=parse_pixels("eps_l2", FLAGS.eps_l2, high=float("inf"), positive=True),
                      apgd_iterations=FLAGS.apgd_iterations, square_queries=FLAGS.square_queries,
                      **({"cache_dir": FLAGS.cache_dir} if FLAGS.cache_dir else {}))
    for path in models:  # after every flag check: a wrong flag is named first
        if not (os.path.isdir(path) or (path.endswith(".keras") and os.path.isfile(path))):
            if os.sep not in path and not path.endswith(".keras"):
                from zoo.pretrained import list_pretrained
                raise ZooError(f"--model={path}: no such directory and no shipped model of that name: expected "
                               "exported_models/<name>/<version>, a .keras file or a shipped model, one of "
                               f"{', '.join(list_pretrained()) or 'none (exported_models/ has no model card yet)'}")
            parent = os.path.dirname(path) or "."
            listing = (", ".join(sorted(os.listdir(parent))[:8]) or "nothing") if os.path.isdir(parent) else \
                "nothing (no such parent directory)"
            raise ZooError(f"--model={path}: no such directory (expected exported_models/<name>/<version> or a "
                           f".keras file); beside it: {listing}")
    if FLAGS.report_dir:  # fail now, not after the whole evaluation
        from zoo.cli import writable_dir
        writable_dir(report_dir, "report_dir")
    return config


def print_table(report):
    from eval.report import format_accuracy
    print(f"{'model':40s} {'noise':5s} {'attack':26s} {'accuracy':34s} eot bpda")
    for r in report["results"]:
        attack = r["attack"] + (f"-{r['params']['steps']}" if "steps" in r["params"] else "")
        if "eps" in r["params"] and abs(r["params"]["eps"] - LINF.eps) > 1e-9:
            attack += f" eps {format_pixels(r['params']['eps'])}"
        attack += f" [{r['defense']}]" if r.get("defense") else ""
        print(f"{r['model'][:40]:40s} {r.get('noise', 'on'):5s} {attack[:26]:26s} "
              f"{format_accuracy(r['accuracy'], r['std'], r['trials']):34s} "
              f"{r['eot']:3d} {'yes' if r['bpda'] else 'no'}")
    meta = report.get("meta", {})
    if any(r["eot"] > 1 for r in report["results"]):
        print(f"EOT mode: {meta.get('eot_mode', 'gradient')} (gradient: mean of per-draw loss gradients; logits: "
              f"gradient of the averaged logits); protocol: {meta.get('protocol', 'default')}")
    for check in report.get("checks", []):
        print(f"{'PASS' if check['passed'] else 'FAIL'} {check['model']}: {check['name']}")


def prepare(argv=None):
    """Parse the command line (``sys.argv`` by default) into a validated ``EvalConfig``; usage errors raise
    ``ZooError`` (or exit 2 from the flag parser)."""
    from zoo.cli import parse_flags
    define_flags()
    parse_flags(argv)
    return config_from_flags()


def main():
    from zoo.cli import usage_error
    try:
        config = prepare()
        report, paths = run(config)
    except ZooError as err:
        usage_error(err)
    print_table(report)
    print(f"report: {paths['json']} {paths['markdown']} ({len(paths['plots'])} plots)")
