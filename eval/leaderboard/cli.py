"""``python -m eval.leaderboard``: flags, the run over the shipped models, and the one-line usage errors."""
import os
import sys
import time

from absl import flags

from zoo.cli import define_pixels, number_list
from zoo.errors import ZooError
from zoo.threat import format_pixels, parse_pixels, pixel_list

FLAGS = flags.FlagValues()  # own flag set: importable beside eval.cli / trainers without name clashes
CHANNELS_REPORT = "docs/leaderboard/channels/report.json"  # committed channels-suite report (claims 4a / 4c)
L2_REPORT = "docs/leaderboard/l2/report.json"  # committed EOT PGD-L2 report (claims 3b / 5)


def define_flags():
    if "models" in FLAGS:
        return
    from eval.leaderboard.protocol import SUITES, Protocol
    d = Protocol()
    f = dict(flag_values=FLAGS)
    flags.DEFINE_list("models", [], "shipped models to evaluate (default: all of zoo.list_pretrained())", **f)
    flags.DEFINE_string("dataset", d.dataset, "TFDS prepared dir (relative paths: to the cwd, else to the checkout "
                        "root), or digits | cifar10 | ...", **f)
    flags.DEFINE_string("data_dir", None, "TFDS data_dir for named datasets", **f)
    flags.DEFINE_string("split", d.split, "split to evaluate on", **f)
    flags.DEFINE_integer("clean_examples", d.clean_examples, "images of the clean accuracy (the first N)", **f)
    flags.DEFINE_integer("num_examples", d.num_examples, "images of the attacks and corruptions (the first N)", **f)
    flags.DEFINE_integer("trials", None, "trials of random models (default: eval's, 5)", **f)
    flags.DEFINE_integer("eot", None, "EOT samples per gradient of random models (default: eval's, 8)", **f)
    flags.DEFINE_enum("eot_mode", d.eot_mode, ["gradient", "logits"], "EOT mode (see python -m eval)", **f)
    flags.DEFINE_enum("bpda", "auto", ["auto", "on", "off"], "BPDA through non-differentiable channels", **f)
    flags.DEFINE_integer("seed", d.seed, "random seed", **f)
    flags.DEFINE_integer("batch_size", d.batch_size, "attack batch size", **f)
    define_pixels("eps", d.eps, "L-inf budget, pixel scale: 0.0314 or 8/255 (zoo.threat)", **f)
    define_pixels("step_size", d.step_size, "PGD step size, pixel scale: 0.0078 or 2/255", **f)
    flags.DEFINE_list("steps", [str(s) for s in d.steps], "PGD step counts of the table", **f)
    flags.DEFINE_integer("eps_curve_steps", d.eps_curve_steps, "PGD steps of the accuracy-vs-eps curve", **f)
    flags.DEFINE_list("steps_list", [str(s) for s in d.steps_list], "PGD steps of the accuracy-vs-steps curve", **f)
    flags.DEFINE_list("eps_list", [format_pixels(e) for e in d.eps_list], "eps of the accuracy-vs-eps curve, pixel "
                      "scale like --eps (0.0314 or 8/255)", **f)
    flags.DEFINE_integer("cw_iterations", d.cw_iterations, "C&W steps per binary-search step", **f)
    flags.DEFINE_integer("sequence_examples", d.sequence_examples, "images per CIFAR-10-P perturbation", **f)
    flags.DEFINE_integer("boundary_examples", d.boundary_examples, "images of W_f", **f)
    flags.DEFINE_integer("directions", d.directions, "random orthogonal directions of W_f (ANP: 1000)", **f)
    flags.DEFINE_list("suites", list(SUITES), f"eval suites to run (clean always runs): {', '.join(SUITES)}", **f)
    flags.DEFINE_string("baseline", "vanilla_resnet20", "model whose corruption errors / flip rates are 100", **f)
    flags.DEFINE_string("work_dir", "docs/leaderboard/reports", "per-model eval reports (the cache; their "
                        "report.json files are committed, so the board is built across sessions and fresh checkouts)", **f)
    flags.DEFINE_string("markdown", "docs/LEADERBOARD.md", "the board (Markdown)", **f)
    flags.DEFINE_string("json", "docs/leaderboard.json", "the board (JSON)", **f)
    flags.DEFINE_string("plots_dir", "docs/leaderboard", "accuracy-vs-eps / -steps PNGs", **f)
    flags.DEFINE_string("cache_dir", None, "generated CIFAR-10-C/-P arrays (default: eval's)", **f)
    flags.DEFINE_bool("update_cards", True, "write each model's numbers into its MODEL_CARD.md", **f)
    flags.DEFINE_string("reproduction", "docs/REPRODUCTION.md", "the papers' claims checked against the board "
                        "(Markdown; empty: not written)", **f)
    flags.DEFINE_string("channels_report", CHANNELS_REPORT, "report.json of `python -m eval --suite=channels` on "
                        "vanilla_resnet20 (REPRODUCTION.md claims 4a / 4c); the default is used when it exists "
                        "(committed, like the per-model reports), an explicit path must exist, empty: none", **f)
    flags.DEFINE_string("l2_report", L2_REPORT, "report.json of the EOT PGD-L2 run of REPRODUCTION.md claims 3b / 5 "
                        "(the command is in the claims' text); read like --channels_report", **f)


def protocol_from_flags():
    from eval.leaderboard.protocol import Protocol
    eps_list = pixel_list("eps_list", FLAGS.eps_list)
    for flag in ("trials", "eot"):
        if getattr(FLAGS, flag) is not None and getattr(FLAGS, flag) < 1:
            raise ZooError(f"--{flag}={getattr(FLAGS, flag)}: expected an integer >= 1 (unset: eval's automatic)")
    parse_pixels("eps", FLAGS.eps)
    parse_pixels("step_size", FLAGS.step_size, positive=True)
    return Protocol(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, split=FLAGS.split,
                    clean_examples=FLAGS.clean_examples, num_examples=FLAGS.num_examples, trials=FLAGS.trials,
                    eot=FLAGS.eot, eot_mode=FLAGS.eot_mode, bpda={"auto": None, "on": True, "off": False}[FLAGS.bpda],
                    seed=FLAGS.seed, batch_size=FLAGS.batch_size, eps=FLAGS.eps, step_size=FLAGS.step_size,
                    steps=number_list("steps", FLAGS.steps), eps_curve_steps=FLAGS.eps_curve_steps,
                    steps_list=number_list("steps_list", FLAGS.steps_list), eps_list=eps_list,
                    cw_iterations=FLAGS.cw_iterations, sequence_examples=FLAGS.sequence_examples,
                    boundary_examples=FLAGS.boundary_examples, directions=FLAGS.directions,
                    suites=tuple(FLAGS.suites))


def select_models(requested):
    """The shipped names to evaluate: all, or ``requested`` (unknown names: one-line ZooError listing them)."""
    import zoo
    names = zoo.list_pretrained()
    if not requested:
        if not names:
            raise ZooError(f"no shipped models under {zoo.pretrained.pretrained_root()}: expected "
                           "<name>/<version>/ SavedModels beside <name>/MODEL_CARD.md")
        return names
    unknown = [n for n in requested if n not in names]
    if unknown:
        raise ZooError(f"--models={','.join(unknown)}: unknown model{'s' if len(unknown) > 1 else ''}; expected "
                       f"some of {', '.join(names) or 'none (no shipped models)'}")
    return list(dict.fromkeys(requested))


def report_path_flag(value, explicit, default=CHANNELS_REPORT):
    """The report to read: ``value`` when given on the command line (it must then exist), else the committed
    ``default`` when it exists, else None (the claims that need it: not measured yet)."""
    if explicit:
        return value or None
    return default if os.path.exists(default) else None


def load_report(path, flag="channels_report"):
    """The eval report dict at ``path`` (a report.json or its directory), or None; one-line ZooError. For
    ``--channels_report`` it must hold the channels suite, for ``--l2_report`` pgd_l2 rows."""
    if not path:
        return None
    from eval.report import load
    try:
        report = load(path)
    except ValueError as err:
        raise ZooError(f"--{flag}={path}: {err}") from None
    if flag == "l2_report":
        if not any(r["attack"] == "pgd_l2" for r in report["results"]):
            raise ZooError(f"--l2_report={path}: no pgd_l2 row in it: expected the report of `python -m eval "
                           "--suite=whitebox --attacks=pgd_l2` (REPRODUCTION.md claims 3b / 5)")
    elif not any(m.get("name") == "transfer_matrix" for m in report["matrices"]) and not any(
            c.get("name") == "accuracy_vs_distortion" for c in report["curves"]):
        raise ZooError(f"--channels_report={path}: no transfer_matrix or accuracy_vs_distortion in it: expected "
                       "the report of `python -m eval --suite=channels`")
    return report


def run(protocol, models, work_dir, markdown_path, json_path, plots_dir, baseline="vanilla_resnet20",
        cache_dir=None, update_cards=True, verbose=True, reproduction_path=None, channels_report=None,
        l2_report=None):
    """Evaluate ``models`` (cached ones are read back), then write the board from every shipped model whose
    report matches the protocol, and (``reproduction_path``) the papers' claims checked against it
    (``eval.leaderboard.reproduction``; ``channels_report`` / ``l2_report``: paths of the channels-suite and
    EOT PGD-L2 report.json files).
    Returns {"evaluated": [...], "cached": [...], "json": dict, "paths": {...}}."""
    import zoo
    from eval.leaderboard import board
    from eval.leaderboard import protocol as protocol_lib
    from zoo.cli import writable_dir

    start = time.time()
    for path, flag in ((work_dir, "work_dir"), (plots_dir, "plots_dir"),
                       (os.path.dirname(os.path.abspath(markdown_path)), "markdown"),
                       (os.path.dirname(os.path.abspath(json_path)), "json")) + (
                          ((os.path.dirname(os.path.abspath(reproduction_path)), "reproduction"),)
                          if reproduction_path else ()):
        writable_dir(path, flag)
    channels = load_report(channels_report)  # a bad path fails before any evaluation
    l2 = load_report(l2_report, "l2_report")
    evaluated, cached, data = [], [], None
    for name in models:
        key, _ = protocol_lib.model_key(zoo.pretrained_dir(name), protocol)
        if protocol_lib.cached(work_dir, name, key) is not None:
            cached.append(name)
            if verbose:
                print(f"[leaderboard] {name}: cached ({protocol_lib.report_path(work_dir, name)})", file=sys.stderr)
            continue
        if data is None:  # loaded once, only when something needs evaluating
            data = protocol_lib.load_images(protocol, max(protocol.clean_examples, protocol.num_examples))
        protocol_lib.evaluate(name, zoo.pretrained_dir(name), protocol, work_dir, data, cache_dir, verbose)
        evaluated.append(name)
    reports, pending = {}, []
    for name in zoo.list_pretrained():  # the board: every shipped model with a valid report
        key, _ = protocol_lib.model_key(zoo.pretrained_dir(name), protocol)
        report = protocol_lib.cached(work_dir, name, key)
        (pending.append(name) if report is None else reports.__setitem__(name, report))
    rows = board.rows(reports, protocol, baseline)
    totals = {"seconds": round(sum(r["meta"][protocol_lib.KEY]["seconds"] for r in reports.values()), 1),
              "run_seconds": round(time.time() - start, 1)}
    plots = board.write_plots(reports, plots_dir)
    data_json = board.to_json(rows, protocol, baseline, totals, pending)
    data_json["plots"] = [os.path.relpath(p, os.path.dirname(os.path.abspath(json_path))) for p in plots]
    board.write_json(json_path, data_json)
    plots_rel = os.path.relpath(plots_dir, os.path.dirname(os.path.abspath(markdown_path))) + "/"
    board._write(markdown_path, board.markdown(rows, protocol, baseline, totals, pending, plots_rel))
    cards = []
    if update_cards:
        for name in reports:
            path = os.path.join(os.path.dirname(zoo.pretrained_dir(name)), zoo.pretrained.CARD_FILE)
            board.update_card(path, board.card_block(name, rows, protocol, markdown_path))
            cards.append(path)
    if reproduction_path:
        from eval.leaderboard import reproduction_page
        metadata = {name: zoo.read_metadata(zoo.pretrained_dir(name)) for name in zoo.list_pretrained()}
        reproduction_page.write(reproduction_path, data_json, metadata, channels, _shown(markdown_path, reproduction_path),
                                channels_report, l2, l2_report)
    return {"evaluated": evaluated, "cached": cached, "json": data_json,
            "paths": {"markdown": markdown_path, "json": json_path, "plots": plots, "cards": cards,
                      "reproduction": reproduction_path}}


def _shown(path, beside):
    """``path`` relative to the directory of ``beside`` (a link that works from that file)."""
    return os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(beside)))


def parse(argv):
    from zoo.cli import usage_error
    define_flags()
    FLAGS.unparse_flags()  # a second call in one process starts from the defaults again
    if any(a in ("-h", "--help", "--helpshort", "--helpfull") for a in argv[1:]):  # own FlagValues: no absl help
        print(FLAGS.get_help())
        sys.exit(0)
    try:
        rest = FLAGS(argv)
    except flags.Error as err:
        usage_error(err)
    if rest[1:]:
        usage_error(ZooError(f"unexpected argument {rest[1]!r}: expected --flag=value only (see --helpfull)"))


def main(argv=None):
    from zoo.cli import usage_error
    parse(sys.argv if argv is None else argv)
    try:
        protocol = protocol_from_flags()
        models = select_models(FLAGS.models)
        out = run(protocol, models, FLAGS.work_dir, FLAGS.markdown, FLAGS.json, FLAGS.plots_dir, FLAGS.baseline,
                  FLAGS.cache_dir, FLAGS.update_cards, reproduction_path=FLAGS.reproduction or None,
                  channels_report=report_path_flag(FLAGS.channels_report, FLAGS["channels_report"].present),
                  l2_report=report_path_flag(FLAGS.l2_report, FLAGS["l2_report"].present, L2_REPORT))
    except ZooError as err:
        usage_error(err)
    p = out["paths"]
    print(f"evaluated {len(out['evaluated'])}, cached {len(out['cached'])}; board: {p['markdown']} {p['json']} "
          f"({len(p['plots'])} plots, {len(p['cards'])} model cards)"
          + (f"; claims: {p['reproduction']}" if p["reproduction"] else ""))
