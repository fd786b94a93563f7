"""AutoAttack on a zoo ResNet: this project's suite vs torchattacks and ART (prints JSON): wall time, images/s and
robust accuracy after each attack.

    python -m bench.autoattack [--model=pni_w_resnet20] [--num_examples=1000] [--version=standard|rand]
                               [--peers [--torch_python=.venv-peers/bin/python] [--art_python=.venv-art/bin/python]]
                               [--n_iter=100] [--square_queries=5000] [--eot_iter=20] [--batch=128] [--noise=off|on]
                               [--torch_runs=autoattack,autoattack_protocol,apgd_ce] [--art_runs=apgd_ce,autoattack]
    make bench-attack-peers ARGS="--model=pni_w_resnet20"     # makes both peer venvs, then runs with --peers

The first ``--num_examples`` images of the test split of ``--data``, L-inf eps 8/255, the same run:

* ``ours``: ``eval.metrics.robustness.autoattack``, what ``python -m eval --suite=autoattack`` runs, on the model as
  eval loads it (``eval.model.load``). ``--noise=off`` (default) attacks its noise-off view (eval's ``--noise=off``:
  the ``serve_deterministic`` signature, the function the peers get); ``--noise=on`` the model as served (a random
  model then gets eval's EOT and trials). ``standard``: APGD-CE, APGD-T, FAB-T, Square; ``rand``: APGD-CE and
  APGD-DLR with EOT over ``--eot_iter`` draws; each attack only on the points still robust. ``ours_apgd_ce``: the
  suite's APGD-CE alone (``eval.metrics.robustness.evaluate``, one start).
* ``--peers``: the libraries a user would pick instead, each in its own venv and process (``-I``: none of this
  project on its path), fed the same images through an .npz and answering JSON on stdout:
  ``peers.torchattacks`` (``bench/peer_torchattacks.py``): torchattacks 3.5.1 on a PyTorch twin of the network
  built from the ``serve_deterministic`` variables (exported here to an .npz by name), checked first: its
  ``twin_max_abs_logit_diff`` against TensorFlow on 16 test images must be < 1e-3, else this exits 1;
  ``peers.art`` (``bench/peer_art.py``): ART 1.20.1's ``TensorFlowV2Classifier`` on the SavedModel itself. A peer
  that cannot run reports ``{"error": "<type>: <first line>"}`` in place of numbers. The peers' "AutoAttack" is
  not the same budget as ours: torchattacks 3.5.1's ``AutoAttack`` leaves APGD, APGD-T and FAB at their class
  default of 10 steps (hence its ``autoattack_protocol`` run, the same attacks at this run's budgets); ART's is its
  own list (APGD-CE and APGD-DLR with 5 starts each, DeepFool, Square with 5 restarts) and has no ``rand`` version
  (for ``--version=rand`` the ART peer is not run: neither its APGD nor its AutoAttack takes EOT draws).
  The ART process inherits this one's TensorFlow environment (``TF_ENABLE_ONEDNN_OPTS``).

``--n_iter`` (APGD / APGD-T / FAB iterations), ``--square_queries`` and ``--eot_iter`` set the protocol's budgets
(defaults: AutoAttack's 100, 5,000 and 20); smaller values are for smoke runs. Wall times include tracing.

The full run takes hours on 2 cores, so it resumes: each part (``ours``, ``ours_apgd_ce``, each peer run in its own
process) is kept as JSON in ``--state_dir`` (default ``bench/results/autoattack/<model, version, noise, images
and budgets>``, committed: a fresh checkout resumes from them) when it finishes, and the same command run again
measures only the missing parts (``--fresh``: all).
``parts`` in the JSON says when and on which CPU each part ran; the speed ratios are quoted only when every part
ran on the same CPU model (parts from different sessions are not one run: say so when quoting them).

JSON fields: ``model``, ``path``, ``images``, ``version``, ``eps``, ``n_iter``, ``square_queries``, ``eot_iter``,
``batch``, ``noise``, ``cpu``, ``python``, ``tensorflow``, ``parts`` (per part: ``measured_at``, ``cpu``,
``cached``); ``ours``: ``seconds``, ``images_per_s``,
``clean_accuracy``, ``robust_accuracy_after`` (cumulative, per attack), ``robust_accuracy`` (worst case: after all),
``stage_seconds``; ``ours_apgd_ce``: ``seconds``, ``images_per_s``, ``robust_accuracy``; ``peers.torchattacks``:
``torch``, ``torchattacks``, ``threads``, ``twin_max_abs_logit_diff``, ``clean_accuracy`` and per run
(``autoattack`` as shipped, ``autoattack_protocol`` = its attacks at this run's budgets, ``apgd_ce``) ``seconds``,
``images_per_s``, ``robust_accuracy``, ``robust_accuracy_after``, ``max_perturbation``, ``attacks`` (their real
steps / queries); ``peers.art``: ``art``, ``keras``, ``tensorflow``, ``max_abs_logit_diff``, ``clean_accuracy``,
runs ``apgd_ce`` and ``autoattack`` (numbers, or ``error`` and ``where``); ``speedup``: our images/s over each
peer's for the matching run (> 1: ours is faster).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import zoo._tf_env  # noqa: F401  (TensorFlow's environment: oneDNN on, logs quiet)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHECK_IMAGES = 16
MAX_LOGIT_DIFF = 1e-3
TORCH_RUNS = ("autoattack", "autoattack_protocol", "apgd_ce")
# why the ART peer is not run for ``--version=rand`` (its APGD without EOT would be timed against ours with EOT)
ART_NO_RAND = ("not run: ART 1.20.1's AutoProjectedGradientDescent and AutoAttack have no EOT option, so neither can "
               "run the rand version's budget (EOT over --eot_iter draws)")
ART_RUNS = ("apgd_ce", "autoattack")
TWIN_ARCHITECTURES = ("resnet20", "resnet32", "resnet44", "resnet56")  # zoo.models.resnet.cifar_resnet, option A


def _positive(value):
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected an integer >= 1")
    return number


def _interpreter(value):
    """An absolute path (the peers run in a temporary cwd, where a relative one would not resolve); '' stays ''."""
    return os.path.abspath(value) if value else ""


def _runs(known):
    def parse(value):
        runs = [r for r in value.split(",") if r]
        bad = [r for r in runs if r not in known]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad[0]!r}: expected a comma-separated subset of {','.join(known)}")
        return runs
    return parse


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pni_w_resnet20", help="zoo name or SavedModel version directory")
    parser.add_argument("--data", default=os.path.join("..", "shared", "data", "cifar10_jpeg", "1.0.0"))
    parser.add_argument("--num_examples", type=_positive, default=1000)
    parser.add_argument("--version", choices=("standard", "rand"), default="standard")
    parser.add_argument("--noise", choices=("off", "on"), default="off",
                        help="ours attacks the noise-off view (the peers' function) or the model as served")
    parser.add_argument("--batch", type=_positive, default=128)
    parser.add_argument("--n_iter", type=_positive, default=100, help="APGD / APGD-T / FAB iterations")
    parser.add_argument("--square_queries", type=_positive, default=5000)
    parser.add_argument("--eot_iter", type=_positive, default=20, help="EOT draws of the rand version")
    parser.add_argument("--peers", action="store_true", help="also run torchattacks and ART in their own venvs")
    parser.add_argument("--torch_python", type=_interpreter, default=os.path.join(ROOT, ".venv-peers", "bin", "python"),
                        help="python of the torch + torchattacks venv ('' skips that peer)")
    parser.add_argument("--art_python", type=_interpreter, default=os.path.join(ROOT, ".venv-art", "bin", "python"),
                        help="python of the TensorFlow + ART venv ('' skips that peer)")
    parser.add_argument("--torch_threads", type=_positive, default=2)
    parser.add_argument("--torch_runs", type=_runs(TORCH_RUNS), default=",".join(TORCH_RUNS),
                        help="torchattacks runs (the shipped autoattack ignores --n_iter / --square_queries)")
    parser.add_argument("--art_runs", type=_runs(ART_RUNS), default=",".join(ART_RUNS), help="ART runs")
    parser.add_argument("--state_dir", default=None,
                        help="where each finished part's JSON is kept (default bench/results/autoattack/<settings>): "
                             "the same command run again skips the parts already measured")
    parser.add_argument("--fresh", action="store_true", help="measure every part again (ignore --state_dir)")
    return parser


def log(message):
    print(f"bench.autoattack: {message}", file=sys.stderr, flush=True)


def _data(path, n):
    """The first ``n`` test images (float32 in [0, 1]) and labels (int32): ``zoo.data.as_numpy``."""
    from zoo.data import as_numpy
    return as_numpy(path, "test", n)


def state_dir(args):
    """The directory of this command's finished parts: one per model and budget, so that only the same
    settings resume."""
    if args.state_dir:
        return args.state_dir
    model = os.path.basename(os.path.normpath(args.model)) if os.sep in args.model else args.model
    key = (f"{model}_{args.version}_noise-{args.noise}_n{args.num_examples}_it{args.n_iter}_q{args.square_queries}"
           f"_eot{args.eot_iter}_b{args.batch}")
    return os.path.join(ROOT, "bench", "results", "autoattack", key)


def _shown_path(path):
    """``path`` relative to the checkout when inside it (kept parts stay valid in another clone), else absolute."""
    path = os.path.abspath(path)
    inside = os.path.commonpath([path, ROOT]) == ROOT
    return os.path.relpath(path, ROOT) if inside else path


class Parts:
    """Each part of the benchmark (our AutoAttack, our APGD-CE, one peer run) is measured once and kept as JSON
    in ``directory`` (written whole, then renamed: an interrupted part leaves nothing), with when and on which
    CPU it ran; a rerun of the same command loads the finished parts and measures the rest (``fresh``: all).
    ``identity`` (the model's version directory and export time) is stored with each part: a part made for
    another export is measured again."""

    def __init__(self, directory, cpu, identity, fresh=False):
        self.directory, self.cpu, self.identity, self.fresh = directory, cpu, identity, fresh
        self.measured = {}  # part -> {"measured_at", "cpu", "cached"}

    def get(self, name, measure, keep=lambda answer: True):
        import datetime
        path = os.path.join(self.directory, f"{name}.json")
        stored = None
        if not self.fresh and os.path.isfile(path):
            with open(path) as f:
                stored = json.load(f)
            if stored.get("identity") != self.identity:
                log(f"{name}: {path} was measured on {stored.get('identity')}, not {self.identity}: measuring again")
                stored = None
        if stored:
            log(f"{name}: measured earlier ({stored['measured_at']} on {stored['cpu']}), kept from {path}")
            self.measured[name] = {"measured_at": stored["measured_at"], "cpu": stored["cpu"], "cached": True}
            return stored["answer"]
        answer = measure()
        stored = {"measured_at": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": self.cpu,
                  "identity": self.identity, "answer": answer}
        self.measured[name] = {"measured_at": stored["measured_at"], "cpu": self.cpu, "cached": False}
        if keep(answer):
            os.makedirs(self.directory, exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(stored, f, indent=1)
            os.replace(tmp, path)
        return answer

    def one_machine(self):
        """True when every part ran on the same CPU model (speed ratios are quoted only then)."""
        return len({m["cpu"] for m in self.measured.values()}) <= 1


def run_ours(model, x, y, args):
    """The project's AutoAttack, with per-attack seconds from its progress callback."""
    from eval.metrics.robustness import autoattack
    marks = []

    def progress(message):
        marks.append(time.perf_counter())
        log(message)

    eot = args.eot_iter if args.version == "rand" else None
    start = time.perf_counter()
    out = autoattack(model, x, y, args.version, args.eps, eot=eot, seed=0, batch_size=args.batch,
                     apgd_iterations=args.n_iter, square_queries=args.square_queries, progress=progress)
    seconds = time.perf_counter() - start
    stages = out["stages"]
    ends = (marks + [start + seconds])[:len(stages)] if len(marks) == len(stages) - 1 else []
    times = [e - s for s, e in zip([start] + ends[:-1], ends)]
    ours = {"suite": "eval.metrics.robustness.autoattack", "model": model.name, "version": out["version"],
            "eot": out["eot"], "trials": out["trials"], "seconds": round(seconds, 2),
            "images_per_s": round(len(x) / seconds, 2), "clean_accuracy": round(out["accuracy"][0], 4),
            "robust_accuracy_after": {s: round(a, 4) for s, a in zip(stages[1:], out["accuracy"][1:])},
            "robust_accuracy": round(out["accuracy"][-1], 4),
            "stage_seconds": {s: round(t, 2) for s, t in zip(stages, times)}}
    if out["trials"] > 1:
        ours["robust_accuracy_std"] = round(out["std"][-1], 4)
    log(f"ours: AutoAttack {out['version']} {seconds:.1f} s, robust accuracy {out['accuracy'][-1]:.4f}")
    return ours


def run_ours_apgd_ce(model, x, y, args):
    """The suite's APGD-CE alone (one start), the run the peers' APGD is compared with."""
    from eval.metrics.robustness import evaluate
    eot = args.eot_iter if args.version == "rand" else None
    start = time.perf_counter()
    row = evaluate(model, x, y, "apgd_ce", {"eps": args.eps, "steps": args.n_iter, "n_restarts": 1},
                   eot=eot, seed=0, batch_size=args.batch)
    seconds = time.perf_counter() - start
    apgd = {"attack": "apgd_ce", "steps": args.n_iter, "seconds": round(seconds, 2),
            "images_per_s": round(len(x) / seconds, 2), "robust_accuracy": round(row["accuracy"], 4)}
    log(f"ours: APGD-CE {seconds:.1f} s, robust accuracy {row['accuracy']:.4f}")
    return apgd


def twin_inputs(model, path, args, x, y, workdir):
    """The .npz files the peers read: weights of ``serve_deterministic`` by variable name, and the images."""
    import numpy as np
    import tensorflow as tf

    from zoo.errors import ZooError
    arch = model.metadata.get("architecture")
    variant = model.metadata.get("variant") or {}
    if arch not in TWIN_ARCHITECTURES or variant.get("channel") or variant.get("fft_layers"):
        raise ZooError(f"--peers: the PyTorch twin covers {', '.join(TWIN_ARCHITECTURES)} without an input channel or "
                       f"FFT layers; {path} is {arch!r} (channel {variant.get('channel')!r}, fft_layers "
                       f"{variant.get('fft_layers')!r})")
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise ZooError(f"--peers: {path} is not a SavedModel version directory (the peers load the served artifact)")
    loaded = tf.saved_model.load(path)  # kept alive: the signature references its variables
    signature = loaded.signatures["serve_deterministic"]
    weights = {v.name.split(":")[0]: v.numpy() for v in signature.variables}
    if len(weights) != len(signature.variables):
        raise ZooError(f"--peers: {path}: serve_deterministic has variables with the same name")
    check_x, _ = _data(args.data, CHECK_IMAGES)
    key = next(iter(signature.structured_input_signature[1]))
    check_logits = signature(**{key: tf.constant(check_x)})["logits"].numpy()
    files = {"weights": os.path.join(workdir, "weights.npz"), "data": os.path.join(workdir, "data.npz")}
    np.savez(files["weights"], **weights)
    np.savez(files["data"], x=x, y=y, check_x=check_x, check_logits=check_logits)
    return files, {"mean": list(variant.get("mean") or (0.4914, 0.4822, 0.4465)),
                   "std": list(variant.get("std") or (0.2470, 0.2435, 0.2616))}


def run_peer(python, script, request):
    """Run ``script`` under ``python`` (isolated: no project on its path), one JSON request in, one JSON out."""
    if not python:
        return {"skipped": "no interpreter given"}
    if not os.path.isfile(python):
        return {"error": f"no interpreter at {python}: run `make bench-attack-peers` to create its venv"}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    start = time.perf_counter()
    proc = subprocess.run([python, "-I", os.path.join(HERE, script)], input=json.dumps(request) + "\n", check=False,
                          stdout=subprocess.PIPE, stderr=None, text=True, env=env, cwd=tempfile.gettempdir())
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        answer = {"error": f"{script} exited with code {proc.returncode} without a JSON answer"}
    answer["python"] = python
    answer["process_seconds"] = round(time.perf_counter() - start, 2)
    if proc.returncode and "error" not in answer:
        answer["error"] = f"{script} exited with code {proc.returncode}"
    return answer


def run_peer_parts(parts, peer, python, script, request, runs):
    """One process per run (each kept as a part); the answer merges the runs with the last process's fields."""
    merged = {}
    for run in runs:
        answer = parts.get(f"{peer}_{run}", lambda: run_peer(python, script, {**request, "runs": [run]}),
                           keep=lambda a: run in a and "error" not in a)
        merged.update(answer)
        if "error" in answer and run not in answer:
            break  # the peer cannot run at all (no venv, failed twin check): the other runs would fail the same
    return merged


def speedups(ours, apgd, peers):
    out = {}
    pairs = [("autoattack_vs_torchattacks_autoattack", ours, ("torchattacks", "autoattack")),
             ("autoattack_vs_torchattacks_autoattack_protocol", ours, ("torchattacks", "autoattack_protocol")),
             ("apgd_ce_vs_torchattacks_apgd_ce", apgd, ("torchattacks", "apgd_ce")),
             ("autoattack_vs_art_autoattack", ours, ("art", "autoattack")),
             ("apgd_ce_vs_art_apgd_ce", apgd, ("art", "apgd_ce"))]
    for name, mine, (peer, run) in pairs:
        theirs = (peers.get(peer) or {}).get(run) or {}
        if theirs.get("images_per_s"):
            out[name] = round(mine["images_per_s"] / theirs["images_per_s"], 2)
    return out


def main():
    args = _parser().parse_args()
    args.eps = 8 / 255
    import tensorflow as tf

    from eval.model import load
    from zoo.errors import ZooError
    from zoo.machine import cpu_model
    from zoo.pretrained import resolve
    try:
        path = resolve(args.model)
        served = load(path)
    except ZooError as err:
        print(f"bench.autoattack: {err}", file=sys.stderr)
        sys.exit(2)
    model = served.noise_off() if args.noise == "off" else served
    import numpy as np

    from eval.metrics.robustness import predict
    x, y = _data(args.data, args.num_examples)
    identity = {"path": _shown_path(path), "exported_at": served.metadata.get("exported_at")}
    parts = Parts(state_dir(args), cpu_model(), identity, args.fresh)
    log(f"{model.name}: {len(x)} images, AutoAttack {args.version}, n_iter {args.n_iter}, "
        f"square_queries {args.square_queries}; finished parts kept in {parts.directory}")
    ours = parts.get("ours", lambda: run_ours(model, x, y, args))
    apgd = parts.get("ours_apgd_ce", lambda: run_ours_apgd_ce(model, x, y, args))
    clean = float(np.mean(predict(model, x) == y))
    result = {"benchmark": "autoattack", "model": args.model, "path": path, "images": len(x),
              "version": args.version, "norm": "linf", "eps": "8/255", "n_iter": args.n_iter,
              "square_queries": args.square_queries, "eot_iter": args.eot_iter if args.version == "rand" else None,
              "batch": args.batch, "noise": args.noise, "clean_accuracy": round(clean, 4), "cpu": cpu_model(),
              "python": platform.python_version(), "tensorflow": tf.__version__,
              "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"), "ours": ours, "ours_apgd_ce": apgd}
    failed = False
    if args.peers:
        peers = {}
        with tempfile.TemporaryDirectory(prefix="bench_autoattack_") as workdir:
            try:
                files, stats = twin_inputs(served, path, args, x, y, workdir)
            except ZooError as err:
                print(f"bench.autoattack: {err}", file=sys.stderr)
                sys.exit(2)
            common = {"data": files["data"], "eps": args.eps, "n_iter": args.n_iter,
                      "square_queries": args.square_queries, "batch": args.batch, "seed": 0}
            log("torchattacks peer")
            peers["torchattacks"] = run_peer_parts(parts, "torchattacks", args.torch_python, "peer_torchattacks.py", {
                **common, **stats, "weights": files["weights"], "version": args.version, "eot_iter": args.eot_iter,
                "threads": args.torch_threads, "max_logit_diff": MAX_LOGIT_DIFF}, args.torch_runs)
            diff = peers["torchattacks"].get("twin_max_abs_logit_diff")
            if args.torch_python and not (diff is not None and diff < MAX_LOGIT_DIFF):
                failed = True
            log("ART peer")
            if args.version == "rand":
                peers["art"] = {"error": ART_NO_RAND}
            else:
                peers["art"] = run_peer_parts(parts, "art", args.art_python, "peer_art.py", {
                    **common, "saved_model": os.path.abspath(path)}, args.art_runs)
        result["peers"] = peers
        if parts.one_machine():
            result["speedup"] = speedups(ours, apgd, peers)
        else:
            result["speedup"] = {"not_quoted": "the parts ran on different CPUs (see parts)"}
    result["parts"] = parts.measured
    print(json.dumps(result, indent=1))
    if failed:
        print(f"bench.autoattack: FAILED: the PyTorch twin does not reproduce the model (max logit difference "
              f"{peers['torchattacks'].get('twin_max_abs_logit_diff')}, limit {MAX_LOGIT_DIFF}): "
              f"{peers['torchattacks'].get('error')}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
