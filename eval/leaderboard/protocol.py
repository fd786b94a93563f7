"""One protocol for every zoo model, and the cached evaluation of one model under it.

``evaluate(name, version_dir, protocol, work_dir)`` runs eval's own suites (``eval.suites.SUITES``, the
functions ``python -m eval`` runs) on the SavedModel and writes eval's ``report.json`` into
``<work_dir>/<name>/``; ``cached`` says whether that report is still valid. The cache key is the model's
``<name>/<version>``, its metadata ``exported_at`` and a hash of the protocol (``Protocol.digest``), so a new
export or a changed protocol re-evaluates and anything else is read back.

How the protocol maps onto eval (``Protocol.eval_config``; EvalConfig ``noise="both"`` adds the
``"<name> (noise off)"`` rows of random models, ``trials`` / ``eot`` None = eval's automatic settings,
``eval.metrics.robustness.attack_settings``: EOT 8 and 5 trials for random models; EvalConfig ``random_only``
applies them to random models only, so deterministic models and noise-off rows get one trial without EOT):

- clean accuracy on the first ``clean_examples`` test images: ``Context.result(model, "clean")`` on its own
  Context (rows with ``suite="clean_full"``);
- FGSM, PGD-k (``steps``) and C&W-L2 (+ mean L2 distortion) on the first ``num_examples`` images: the
  ``whitebox`` suite with ``attacks=(fgsm, pgd, cw_l2)``; the PGD-k rows via ``Context.result`` with
  ``eval.suites.pgd_params`` (random start, eps, step ``min(step_size, eps)``);
- accuracy vs eps (PGD-``eps_curve_steps``, i.e. EvalConfig ``steps``) and vs steps (``steps_list``): the
  whitebox suite's curves;
- CIFAR-10-C errors (``corruption`` suite, same images), CIFAR-10-P flip probabilities
  (``perturbation_seq``, first ``sequence_examples``), W_f (``boundary``, first ``boundary_examples``,
  ``directions``). mCE / relative mCE / mFR against the baseline are computed when the board is built
  (``eval.leaderboard.board``, with the suite's ``ce_scores`` / ``fr_scores``), so a model's cache does not
  depend on the baseline's.
"""
import dataclasses
import hashlib
import json
import os
import sys
import time

from zoo.errors import ZooError
from zoo.machine import cpu_model
from zoo.threat import EPS_SWEEP, LINF

SUITES = ("whitebox", "corruption", "perturbation_seq", "boundary")
ATTACKS = ("fgsm", "pgd", "cw_l2")
CLEAN_SUITE = "clean_full"
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = "leaderboard"  # report meta entry holding the cache key, seconds and the model's export info
JOURNAL = "journal.jsonl"  # finished result rows of a run in progress (eval.suites.journal), beside report.json


@dataclasses.dataclass(frozen=True)
class Protocol:
    dataset: str = "../shared/data/cifar10_jpeg/1.0.0"
    data_dir: str = None
    split: str = "test"
    clean_examples: int = 10000
    num_examples: int = 1000
    trials: int = None          # None: eval's automatic (5 for random models, 1 otherwise)
    eot: int = None             # None: eval's automatic (8 for random models, 1 otherwise)
    eot_mode: str = "gradient"
    bpda: bool = None           # None: BPDA exactly for models with non-differentiable parts
    seed: int = 0
    batch_size: int = 128
    eps: float = LINF.eps
    step_size: float = LINF.step_size
    steps: tuple = (20, 100)    # the table's PGD columns
    eps_curve_steps: int = 20   # PGD steps of the accuracy-vs-eps curve
    steps_list: tuple = (1, 7, 20, 40, 100)
    eps_list: tuple = EPS_SWEEP
    cw_iterations: int = 10
    sequence_examples: int = 100
    boundary_examples: int = 50
    directions: int = 32
    suites: tuple = SUITES

    def __post_init__(self):
        for s in self.suites:
            if s not in SUITES:
                raise ZooError(f"--suites={s}: expected some of {', '.join(SUITES)}")
        for name in ("clean_examples", "num_examples", "batch_size", "cw_iterations", "sequence_examples",
                     "boundary_examples", "directions", "eps_curve_steps"):
            if getattr(self, name) < 1:
                raise ZooError(f"--{name}={getattr(self, name)}: expected an integer >= 1")
        if not self.steps or min(self.steps) < 1 or min(self.steps_list or (0,)) < 1:
            raise ZooError(f"--steps={','.join(map(str, self.steps))} / --steps_list: expected step counts >= 1")

    def as_dict(self):
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    def digest(self):
        """A hash of everything that changes a model's numbers (not where files go)."""
        text = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def eval_config(self, version_dir, report_dir, cache_dir=None):
        from eval.suites import EvalConfig
        return EvalConfig(models=(version_dir,), dataset=self.dataset, data_dir=self.data_dir, split=self.split,
                          num_examples=self.num_examples, suites=self.suites, report_dir=report_dir,
                          trials=self.trials, eot=self.eot, random_only=True, eot_mode=self.eot_mode, noise="both",
                          bpda=self.bpda,
                          seed=self.seed, batch_size=self.batch_size, eps=self.eps, step_size=self.step_size,
                          steps=(self.eps_curve_steps,), eps_list=self.eps_list, steps_list=self.steps_list,
                          attacks=ATTACKS, cw_iterations=self.cw_iterations,
                          sequence_examples=self.sequence_examples, boundary_examples=self.boundary_examples,
                          directions=self.directions, **({"cache_dir": cache_dir} if cache_dir else {}))


def model_key(version_dir, protocol):
    import zoo
    meta = zoo.read_metadata(version_dir)
    parts = os.path.normpath(os.path.abspath(version_dir)).split(os.sep)
    # name/version, not the absolute path: a cached report stays valid in another clone of the checkout
    return {"version_dir": "/".join(parts[-2:]), "exported_at": meta.get("exported_at"),
            "protocol": protocol.digest()}, meta


def report_path(work_dir, name):
    return os.path.join(work_dir, name, "report.json")


def cached(work_dir, name, key):
    """The model's report (a dict) when ``report.json`` exists and was made for ``key``, else None."""
    from eval.report import load
    path = report_path(work_dir, name)
    if not os.path.isfile(path):
        return None
    try:
        report = load(path)
    except ValueError:
        return None
    return report if report["meta"].get(KEY, {}).get("key") == key else None


def dataset_path(value):
    """A relative path missing under the cwd but present under the checkout root is taken from the root (the
    default ``../shared/data/...`` is relative to the checkout); names such as ``digits`` stay as they are."""
    if os.path.isabs(value) or os.path.exists(value) or "/" not in value:
        return value
    rooted = os.path.normpath(os.path.join(_ROOT, value))
    return rooted if os.path.exists(rooted) else value


def load_images(protocol, count):
    """The first ``count`` images and labels of the protocol's split (``zoo.data.as_numpy``)."""
    from zoo import data
    return data.as_numpy(dataset_path(protocol.dataset), protocol.split, count, data_dir=protocol.data_dir)


def export_info(meta):
    prov = meta.get("provenance") or {}
    training = meta.get("training") or {}
    return {"version": meta.get("version"), "exported_at": meta.get("exported_at"), "commit": prov.get("commit"),
            "uncommitted_changes": prov.get("uncommitted_changes"),
            "method": training.get("method") if isinstance(training, dict) else None,
            "is_random": meta.get("is_random"), "is_differentiable": meta.get("is_differentiable")}


def evaluate(name, version_dir, protocol, work_dir, data, cache_dir=None, verbose=True):
    """Evaluate one model under ``protocol`` into ``<work_dir>/<name>/report.json``; returns the report dict.

    ``data`` is ``(x, y)`` holding at least ``max(clean_examples, num_examples)`` images (loaded once for
    all models)."""
    from tqdm import tqdm

    from eval import model as model_lib
    from eval.report import Report
    from eval.suites import SUITES, Context
    from eval.suites.journal import Journal
    from zoo.cli import writable_dir

    key, meta = model_key(version_dir, protocol)
    report_dir = os.path.dirname(report_path(work_dir, name))
    writable_dir(report_dir, "work_dir", shown=work_dir)
    start = time.time()
    model = model_lib.load(version_dir)
    model.name = name
    x_all, y_all = data
    x_all = model_lib.check_images(x_all)
    if tuple(model.input_shape) != tuple(x_all.shape[1:]):
        raise ZooError(f"model {name} ({version_dir}) takes images of shape {tuple(model.input_shape)} but "
                       f"--dataset={protocol.dataset} has {tuple(x_all.shape[1:])}")
    # random_only: --trials / --eot are for random models; a deterministic one and the noise-off views get 1 and 1
    config = protocol.eval_config(version_dir, report_dir, cache_dir)
    report = Report({"command": "python -m eval.leaderboard", "models": {name: {
                         "path": version_dir, "is_random": model.is_random,
                         "is_differentiable": model.is_differentiable,
                         "architecture": meta.get("architecture"), "variant": meta.get("variant")}},
                     "dataset": protocol.dataset, "split": protocol.split, "num_examples": protocol.num_examples,
                     "seed": protocol.seed, "protocol": "default", "eot_mode": protocol.eot_mode, "noise": "both",
                     "suites": ["clean"] + list(protocol.suites),
                     "started_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    bar = tqdm(total=1 + len(protocol.suites) + 1, desc=name, disable=not verbose, leave=True)
    journal = Journal(os.path.join(report_dir, JOURNAL), key)  # a run cut off part-way resumes from here
    if journal.restored and verbose:
        print(f"[leaderboard] {name}: resuming, {journal.restored} result rows ({journal.restored_seconds} s) read "
              f"back from {journal.path}", file=sys.stderr)

    def progress(text):
        bar.set_postfix_str(text[:60], refresh=True)

    clean_ctx = Context(dataclasses.replace(config, num_examples=protocol.clean_examples), [model],
                        x_all[:protocol.clean_examples], y_all[:protocol.clean_examples], report, progress, journal)
    for m in clean_ctx.attack_models:
        clean_ctx.result(m, "clean", suite_name=CLEAN_SUITE)
    bar.update()
    ctx = Context(config, [model], x_all[:protocol.num_examples], y_all[:protocol.num_examples], report, progress,
                  journal)
    from eval.suites import pgd_params
    for suite_name in protocol.suites:
        SUITES.get(suite_name)(ctx)
        if suite_name == "whitebox":
            for m in ctx.attack_models:  # the table's PGD-k columns (cached when a curve already ran them)
                for steps in protocol.steps:
                    ctx.result(m, "pgd", pgd_params(config, steps), suite_name="whitebox")
        bar.update()
    # a resumed run: this session's wall time plus the compute time of the rows journaled in earlier sessions
    seconds = round(time.time() - start + journal.restored_seconds, 1)
    report.update_meta(seconds=seconds, **{KEY: {"key": key, "name": name, "seconds": seconds, "cpu": cpu_model(),
                                                 "protocol": protocol.as_dict(), "export": export_info(meta),
                                                 **({"resumed_rows": journal.restored} if journal.restored else {})}})
    report.write(report_dir)
    journal.remove()
    bar.update()
    bar.close()
    return report.to_dict()
