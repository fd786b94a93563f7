"""The suites of ``python -m eval``: each runs metrics on the loaded models and fills the report.

| suite | what it measures | paper |
|---|---|---|
| whitebox | clean accuracy; FGSM, PGD-7/20 (L-inf), BIM, MI-FGSM, Step-LL, PGD-L2, C&W-L2 (+ mean L2 distortion); worst case per example over the L-inf attacks at --eps; accuracy vs eps and vs steps; optional majority vote | PNI sec. 4.1, Tables 2-4, Fig. 3; Study D.4 |
| autoattack | standard (APGD-CE, APGD-T, Square) or rand (APGD-CE, APGD-DLR, EOT 20), each on the points still robust; cumulative robust accuracy, worst case | Croce & Hein 2020 sec. 5 |
| blackbox | SPSA (gradient-free) | Uesato et al. 2018; PNI sec. 4.2.2 |
| transfer | PGD examples crafted on each model, accuracy of every model on them | PNI sec. 4.2.2; Study Table 1 |
| obfuscation | the five checks of Athalye et al. with their numbers | PNI Table 7 |
| channels | accuracy vs input distortion of six channels, transfer matrix between channel defenses, recovery windows, the partially adaptive attack | Study Fig. 1, Table 1, Fig. 2, sec. 3.4 |
| corruption | CIFAR-10-C generated here (15 + 4 corruptions x 5 severities): errors, CE, mCE, relative mCE against a baseline | ANP Tables 8-9; Hendrycks & Dietterich 2019 |
| perturbation_seq | CIFAR-10-P sequences (12 perturbations, 31 frames): flip probability, FR, mFR against a baseline | ANP Table 10 |
| boundary | worst-case boundary distance W_f over random orthogonal directions | ANP eq. 3, Table 11 |
| insensitivity | epsilon-empirical noise insensitivity (FGSM, PGD, Step-LL, Gaussian, shot noise) and hidden representation insensitivity per ReLU layer | ANP eq. 4, Fig. 4, 8, 9 |
| analysis | M1 = gradient norm and M2 = Hessian lambda_max for natural vs adversarial examples; gradient norms of original / adversarial / random class under Gaussian noise | Study sec. 2.4, 3.8, D.6, Fig. 12-14 |
| saliency | loss-gradient maps (tf-keras-vis) for a grid of images and models | ANP Fig. 5, 10 |

Random models get EOT and mean±std over trials, non-differentiable ones BPDA, automatically
(``eval.metrics.robustness.attack_settings``); the report records what was used. ``noise`` (on, off,
both) chooses whether whitebox, blackbox, transfer and obfuscation evaluate the models as served,
with their noise off (``ServedModel.noise_off()``: predicted and attacked without noise, PNI Table 2
"test without PNI"), or both; suites of the deterministic network (boundary, insensitivity,
analysis) use ``ServedModel.deterministic_mode()``, which keeps BPDA for non-differentiable parts.
"""
import dataclasses
import json
import os

import numpy as np

from eval.attacks import get as get_attack
from eval.attacks.eot import EOT_MODES
from eval.metrics import channels as channel_metrics
from eval.metrics import obfuscation
from eval.metrics.robustness import (AUTOATTACK_VERSIONS, attack_settings, autoattack, craft, evaluate, predict,
                                     protocol_settings, worst_case)
from zoo.errors import ZooError, choice_error

NOISE = ("on", "off", "both")

EPS = 8 / 255
BOUNDARY_SEARCH_LIMIT = 64.0  # L2 distance ([0,1] pixels) up to which boundary rays are searched
STEP = 2 / 255


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    models: tuple
    dataset: str = "cifar10"
    data_dir: str = None
    split: str = "test"
    num_examples: int = 500
    suites: tuple = ("whitebox",)
    report_dir: str = "reports/latest"
    trials: int = None          # None: 5 for random models, 1 otherwise
    eot: int = None             # None: 8 for random models, 1 otherwise
    eot_mode: str = "gradient"  # gradient: mean of per-draw loss gradients (Athalye et al.); logits: of averaged logits
    protocol: str = "default"   # pni: eot 1 and 5 trials for every model (PNI sec. 4.1's tables)
    noise: str = "on"           # on | off | both: whitebox/blackbox/transfer/obfuscation as served, noise off, or both
    bpda: bool = None           # None: BPDA exactly for models with non-differentiable parts
    seed: int = 0
    batch_size: int = 128
    eps: float = EPS
    step_size: float = STEP
    steps: tuple = (7, 20)
    eps_list: tuple = (0.0, 2 / 255, 4 / 255, 8 / 255, 12 / 255, 16 / 255)
    steps_list: tuple = (1, 7, 20, 40, 100)
    attacks: tuple = ("fgsm", "pgd", "bim", "mifgsm", "step_ll", "pgd_l2", "cw_l2")
    majority_vote: bool = False
    votes: int = 9
    cw_iterations: int = 10
    channel_attack: str = "cw_l2"     # channels transfer matrix: Study Table 1's adaptive C&W L2, or pgd
    channel_examples: int = None      # images of the channels suite (None: all; Study Table 1: 2000)
    cache_dir: str = os.path.join(os.path.expanduser("~"), ".cache", "robustness-zoo")
    baseline_model: str = None      # a --model name (or a model of --baseline_report) used as the CE/FR base
    baseline_report: str = None     # report.json of an earlier run holding the baseline's errors
    sequence_examples: int = 100
    boundary_examples: int = 50
    directions: int = 32
    insensitivity_eps: tuple = (1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255)
    saliency_examples: int = 8
    insensitivity_examples: int = 100
    analysis_examples: int = 64         # M1 / M2 histograms
    gradient_norm_examples: int = 16    # gradient norms under Gaussian noise (Study Fig. 12-14)
    autoattack_version: str = "auto"    # auto: standard for deterministic models, rand for random ones
    apgd_iterations: int = 100          # APGD iterations per run (Croce & Hein 2020: 100)
    square_queries: int = 5000          # Square Attack queries per example (AutoAttack: 5,000)

    def __post_init__(self):
        if self.eot_mode not in EOT_MODES:
            raise choice_error("eot_mode", self.eot_mode, EOT_MODES)
        if self.noise not in NOISE:
            raise choice_error("noise", self.noise, NOISE)
        eot, trials = protocol_settings(self.protocol, self.eot, self.trials)
        object.__setattr__(self, "eot", eot)
        object.__setattr__(self, "trials", trials)
        if self.autoattack_version not in AUTOATTACK_VERSIONS:
            raise choice_error("autoattack_version", self.autoattack_version, AUTOATTACK_VERSIONS)
        for name in ("apgd_iterations", "square_queries"):
            if getattr(self, name) < 1:
                raise ZooError(f"--{name}={getattr(self, name)}: expected an integer >= 1")
        if self.votes < 1:
            raise ZooError(f"--votes={self.votes}: expected a number of passes >= 1")
        for name in ("insensitivity_examples", "analysis_examples", "gradient_norm_examples"):
            if getattr(self, name) < 1:
                raise ZooError(f"--{name}={getattr(self, name)}: expected an integer >= 1")


SUITES = {}


def suite(name):
    def wrap(fn):
        SUITES[name] = fn
        return fn
    return wrap


class Context:
    """Models, data, config, report and a cache so that suites share results."""

    def __init__(self, config, models, x, y, report, progress):
        self.config, self.models, self.x, self.y, self.report = config, models, x, y, report
        self.progress = progress
        self._cache = {}
        self._correct = {}  # cache key -> per-trial boolean arrays (example classified correctly)

    def settings(self, model):
        c = self.config
        return dict(eot=c.eot, trials=c.trials, bpda=c.bpda, seed=c.seed, batch_size=c.batch_size,
                    eot_mode=c.eot_mode, votes=c.votes)

    @property
    def attack_models(self):
        """The models whitebox, blackbox, transfer and obfuscation evaluate under ``config.noise``: as
        served (on), their noise-off views (off), or both (a noise-off view only for random models)."""
        out = []
        for model in self.models:
            if self.config.noise in ("on", "both"):
                out.append(model)
            if self.config.noise == "off" or (self.config.noise == "both" and model.is_random):
                out.append(model.noise_off())
        return out

    def result(self, model, attack, params=None, defense=None, suite_name=None, record=True, x=None, y=None):
        key = (model.name, attack, json.dumps(params or {}, sort_keys=True, default=str), defense)
        if key not in self._cache:
            self.progress(f"{model.name}: {attack} {_short(params)}")
            correct = []
            row = evaluate(model, self.x if x is None else x, self.y if y is None else y, attack, params,
                           defense=defense, suite=suite_name, correct=correct, **self.settings(model))
            self._cache[key] = row
            self._correct[key] = correct
            if record:
                self.report.add_result(**row)
        return self._cache[key]

    def correct(self, model, attack, params=None, defense=None):
        """Per-trial boolean arrays of a row computed by ``result`` (example i classified correctly)."""
        return self._correct[(model.name, attack, json.dumps(params or {}, sort_keys=True, default=str), defense)]


def _short(params):
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in (params or {}).items())


def pgd_params(config, steps, eps=None):
    """PGD-k at ``eps`` with the configured step, never larger than eps itself."""
    eps = config.eps if eps is None else eps
    return {"eps": eps, "eps_iter": min(config.step_size, eps), "nb_iter": int(steps)}


ATTACK_PARAMS = {
    "fgsm": lambda c: {"eps": c.eps},
    "bim": lambda c: {"eps": c.eps, "eps_iter": c.step_size, "nb_iter": 10},
    "mifgsm": lambda c: {"eps": c.eps, "eps_iter": c.step_size, "nb_iter": 10},
    "step_ll": lambda c: {"eps": c.eps},
    "pgd_l2": lambda c: {},
    "cw_l2": lambda c: {"max_iterations": c.cw_iterations},
    "spsa": lambda c: {"eps": c.eps, "nb_iter": 10},
    "partial_adaptive": lambda c: {},             # Study Table 1's C&W L2 through a Laplace surrogate
    "partial_adaptive_unlimited": lambda c: {},   # Study Fig. 11: many Laplace draws per pass
    "partial_adaptive_pgd": lambda c: {"eps": c.eps, "eps_iter": min(c.step_size, c.eps)},
    "apgd_ce": lambda c: {"eps": c.eps, "nb_iter": c.apgd_iterations},
    "apgd_dlr": lambda c: {"eps": c.eps, "nb_iter": c.apgd_iterations},
    "apgd_t": lambda c: {"eps": c.eps, "nb_iter": c.apgd_iterations},
    "square": lambda c: {"eps": c.eps, "n_queries": c.square_queries},
}


@suite("whitebox")
def whitebox(ctx):
    c = ctx.config
    for model in ctx.attack_models:
        ctx.result(model, "clean", suite_name="whitebox")
        runs = []
        for attack in c.attacks:
            runs += ([("pgd", pgd_params(c, steps)) for steps in c.steps] if attack == "pgd"
                     else [(attack, ATTACK_PARAMS[attack](c) if attack in ATTACK_PARAMS else {})])
        for name, params in runs:
            ctx.result(model, name, params, suite_name="whitebox")
        if c.majority_vote and model.is_random:
            ctx.result(model, "clean", defense="majority_vote", suite_name="whitebox")
            ctx.result(model, "pgd", pgd_params(c, max(c.steps)), defense="majority_vote", suite_name="whitebox")
        _, eps_curve = curve_rows(ctx, model, "eps")
        _, steps_curve = curve_rows(ctx, model, "steps")
        ctx.report.add_curve(**eps_curve)
        ctx.report.add_curve(**steps_curve)
        # The worst case: every attack of the run in the L-inf ball of --eps (the table's and the curves' PGD).
        runs += [("pgd", pgd_params(c, s)) for s in c.steps_list]
        runs += [("pgd", pgd_params(c, max(c.steps), e)) for e in c.eps_list if e > 0]
        budget = []
        for name, params in runs:
            if (get_attack(name).norm == "linf" and abs(params.get("eps", -1) - c.eps) < 1e-12
                    and (name, params) not in budget):
                budget.append((name, params))
        add_worst_case(ctx, model, budget, "whitebox")


def add_worst_case(ctx, model, attacks, suite_name):
    """The row ``worst_case``: the fraction of examples that neither clean evaluation nor any of ``attacks``
    ([(attack, params)], one threat model) fooled, per trial, mean ± std over trials
    (``eval.metrics.robustness.worst_case``)."""
    if not attacks:
        return None
    base = ctx.result(model, "clean")
    correct = [ctx.correct(model, "clean")] + [ctx.correct(model, a, p) for a, p in attacks]
    acc, std, trials = worst_case(correct)
    labels = [a + (f"-{p['nb_iter']}" if "nb_iter" in p else "") for a, p in attacks]
    rows = [ctx.result(model, a, p) for a, p in attacks]
    eot = max(r["eot"] for r in [base] + rows)
    row = dict(model=model.name, attack="worst_case", params={"eps": ctx.config.eps, "attacks": labels},
               accuracy=acc, std=std, trials=trials, eot=eot, bpda=any(r["bpda"] for r in rows),
               seed=ctx.config.seed, seconds=0.0, num_examples=int(len(ctx.x)), noise=getattr(model, "noise", "on"),
               suite=suite_name, notes="examples that no attack of the run fooled (per trial: " + ", ".join(labels)
               + ")", **({"eot_mode": ctx.config.eot_mode} if eot > 1 else {}))
    ctx.report.add_result(**row)
    return row


@suite("autoattack")
def autoattack_suite(ctx):
    """AutoAttack (Croce & Hein 2020): ``standard`` (APGD-CE, APGD-T, Square; FAB-T not implemented) for
    deterministic models, ``rand`` (APGD-CE, APGD-DLR with EOT 20) for random ones (``--autoattack_version``);
    each attack only on the points still robust; rows of the cumulative robust accuracy and a matrix."""
    c = ctx.config
    for model in ctx.attack_models:
        out = autoattack(model, ctx.x, ctx.y, c.autoattack_version, c.eps, eot=c.eot, trials=c.trials, bpda=c.bpda,
                         seed=c.seed, batch_size=c.batch_size, eot_mode=c.eot_mode, apgd_iterations=c.apgd_iterations,
                         square_queries=c.square_queries, progress=ctx.progress)
        common = dict(model=model.name, trials=out["trials"], bpda=out["mode"] in ("bpda", "deterministic_bpda"),
                      seed=c.seed, num_examples=int(len(ctx.x)), noise=getattr(model, "noise", "on"),
                      suite="autoattack")
        eot_fields = {"eot": out["eot"], **({"eot_mode": c.eot_mode} if out["eot"] > 1 else {})}
        for k, (stage, acc, std) in enumerate(zip(out["stages"], out["accuracy"], out["std"])):
            if k == 0:
                row = dict(attack="clean", params={}, eot=1, notes=f"autoattack {out['version']}: clean")
            else:
                name, params = out["plan"][k - 1]
                row = dict(attack=f"autoattack:{name}", params=dict(params), **eot_fields,
                           notes=f"autoattack {out['version']}: robust accuracy after "
                                 f"{' + '.join(out['stages'][1:k + 1])} (cumulative; each attack on the points "
                                 f"still robust)")
            ctx.report.add_result(**common, **row, accuracy=acc, std=std, seconds=out["seconds"] if k == len(
                out["stages"]) - 1 else 0.0)
        ctx.report.add_result(**common, **eot_fields, attack="worst_case",
                              params={"eps": c.eps, "version": out["version"], "attacks": out["stages"][1:]},
                              accuracy=out["accuracy"][-1], std=out["std"][-1], seconds=0.0,
                              notes="examples that no attack of the run fooled (AutoAttack's robust accuracy)")
        ctx.report.add_matrix(name="autoattack_cumulative", model=model.name, rows=[model.name],
                              cols=out["stages"], values=[out["accuracy"]], row_label="model",
                              col_label=f"robust accuracy after each attack, cumulative ({out['version']}, "
                                        f"eps {c.eps * 255:.3g}/255, L-inf)",
                              paper="Croce & Hein 2020 sec. 5 (AutoAttack)")


def curve_rows(ctx, model, kind):
    c = ctx.config
    if kind == "eps":
        rows = [ctx.result(model, "clean") if e == 0 else ctx.result(model, "pgd", pgd_params(c, max(c.steps), e),
                                                                     suite_name="whitebox")
                for e in c.eps_list]
        x, label = [round(e * 255, 3) for e in c.eps_list], "eps (x/255)"
        name, paper = "accuracy_vs_eps", f"PNI Fig. 3 (PGD-{max(c.steps)})"
    else:
        rows = [ctx.result(model, "pgd", pgd_params(c, s), suite_name="whitebox") for s in c.steps_list]
        x, label = list(c.steps_list), "PGD steps"
        name, paper = "accuracy_vs_steps", "PNI Fig. 3 (eps 8/255)"
    return rows, dict(name=name, model=model.name, series=model.name, x=x, y=[r["accuracy"] for r in rows],
                      std=[r["std"] for r in rows], x_label=label, y_label="accuracy", paper=paper)


@suite("blackbox")
def blackbox(ctx):
    for model in ctx.attack_models:
        ctx.result(model, "spsa", ATTACK_PARAMS["spsa"](ctx.config), suite_name="blackbox")


@suite("transfer")
def transfer(ctx):
    """Rows: source model the PGD examples were crafted on; columns: model evaluated on them."""
    c = ctx.config
    models = ctx.attack_models
    names = [m.name for m in models]
    values = []
    for source in models:
        eot, _, mode = attack_settings(source, c.eot, 1, c.bpda)
        ctx.progress(f"transfer: crafting on {source.name}")
        x_adv = craft(source, "pgd", ctx.x, ctx.y, pgd_params(c, max(c.steps)), eot, mode, c.batch_size, c.eot_mode)
        values.append([float(np.mean(predict(target, x_adv) == ctx.y)) for target in models])
    ctx.report.add_matrix(name="transfer_matrix_models", rows=names, cols=names, values=values,
                          row_label="source (PGD crafted on)", col_label="target (evaluated)",
                          paper="PNI sec. 4.2.2 transferable attack; Study Table 1")


@suite("obfuscation")
def obfuscation_suite(ctx):
    c = ctx.config
    for model in ctx.attack_models:
        rows = {"fgsm": ctx.result(model, "fgsm", {"eps": c.eps}, suite_name="obfuscation"),
                "pgd": ctx.result(model, "pgd", pgd_params(c, max(c.steps)), suite_name="obfuscation"),
                "spsa": ctx.result(model, "spsa", ATTACK_PARAMS["spsa"](c), suite_name="obfuscation"),
                "unbounded": ctx.result(model, "pgd", {"eps": 1.0, "eps_iter": 0.1, "nb_iter": max(c.steps)},
                                        suite_name="obfuscation")}
        ctx.progress(f"{model.name}: random sampling")
        random_acc = obfuscation.random_sampling(model, ctx.x, ctx.y, c.eps, seed=c.seed)
        _, eps_curve = curve_rows(ctx, model, "eps")
        for check in obfuscation.checks(model, rows, eps_curve, random_acc, c.eps):
            ctx.report.add_check(**check)


@suite("channels")
def channels_suite(ctx):
    c = ctx.config
    count = len(ctx.x) if c.channel_examples is None else min(int(c.channel_examples), len(ctx.x))
    x, y = ctx.x[:count], ctx.y[:count]
    for model in ctx.models:
        ctx.progress(f"{model.name}: accuracy vs distortion")
        for curve_dict in channel_metrics.distortion_curves(model, ctx.x, ctx.y):
            ctx.report.add_curve(**curve_dict)
        ctx.progress(f"{model.name}: channel transfer matrix ({c.channel_attack}, {len(x)} images)")
        params = pgd_params(c, max(c.steps)) if c.channel_attack == "pgd" else {}
        ctx.report.add_matrix(**channel_metrics.transfer_matrix(model, x, y, attack=c.channel_attack, params=params,
                                                                batch_size=c.batch_size, bpda=c.bpda))
        ctx.progress(f"{model.name}: recovery windows")
        curves, n = channel_metrics.recovery_windows(model, x, y, params=pgd_params(c, max(c.steps)), seed=c.seed,
                                                     bpda=c.bpda)
        for curve_dict in curves:
            ctx.report.add_curve(**{**curve_dict, "series": curve_dict["series"]})
        ctx.result(model, "partial_adaptive", {}, suite_name="channels", x=x, y=y)
        ctx.result(model, "partial_adaptive_pgd", {"eps": c.eps, "eps_iter": min(c.step_size, c.eps)},
                   suite_name="channels", x=x, y=y)


# ----- issue 5: corruption robustness and the ANP / perturbation-study criteria --------------------

def _as_float(images):
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def _baseline(ctx, matrix_name, own):
    """(model name, {model: values}) of the baseline: a model of this run or of --baseline_report."""
    c = ctx.config
    if c.baseline_model and c.baseline_model in own:
        return c.baseline_model, own
    if c.baseline_report:
        from eval.report import load
        from zoo.errors import ZooError
        data = load(c.baseline_report)
        found = {m.get("model"): m for m in data["matrices"] if m["name"] == matrix_name}
        name = c.baseline_model or (next(iter(found)) if len(found) == 1 else None)
        if name not in found:
            raise ZooError(f"--baseline_report={c.baseline_report}: no {matrix_name} of model {name!r}; it has "
                           f"{', '.join(map(str, found)) or 'none'}")
        clean = [r for r in data["results"] if r["model"] == name and r["attack"] == "clean"]
        return name, {name: (found[name], clean[0]["accuracy"] if clean else None)}
    return None, own


@suite("corruption")
def corruption_suite(ctx):
    from eval.corruptions import BENCHMARK, EXTRA, generate
    from eval.metrics import corruption as cm
    c = ctx.config
    names = list(BENCHMARK) + list(EXTRA)
    ctx.progress("generating CIFAR-10-C (cached after the first run)")
    corrupted = {k: _as_float(v) for k, v in generate(ctx.x, names, seed=c.seed, cache_dir=c.cache_dir,
                                                       progress=False).items()}
    own = {}
    for model in ctx.models:
        ctx.progress(f"{model.name}: corruption errors")
        clean = ctx.result(model, "clean", suite_name="corruption")
        errors = cm.corruption_errors(model, corrupted, ctx.y)
        matrix = dict(name="corruption_error", model=model.name, rows=names, cols=[f"s{s}" for s in range(1, 6)],
                      values=[errors[n] for n in names], row_label="corruption", col_label="severity",
                      paper="CIFAR-10-C error rates (Hendrycks & Dietterich 2019)")
        ctx.report.add_matrix(**matrix)
        own[model.name] = (matrix, clean["accuracy"])
    base_name, table = _baseline(ctx, "corruption_error", own)
    if base_name is None:
        return
    base_matrix, base_acc = table[base_name]
    base_errors = dict(zip(base_matrix["rows"], base_matrix["values"]))
    ce_rows, rel_rows = [], []
    for model in ctx.models:
        matrix, acc = own[model.name]
        scores = cm.ce_scores(dict(zip(names, matrix["values"])), 1 - acc, base_errors, 1 - base_acc, BENCHMARK)
        ce_rows.append([scores["CE"][n] for n in BENCHMARK] + [scores["mCE"]])
        rel_rows.append([scores["relative_CE"][n] for n in BENCHMARK] + [scores["relative_mCE"]])
    models = [m.name for m in ctx.models]
    for name, rows in (("CE", ce_rows), ("relative_CE", rel_rows)):
        _add_defined_matrix(ctx, f"corruption_{name}", models, list(BENCHMARK) + [f"m{name}"], rows,
                            f"corruption (% of {base_name})", "ANP Tables 8-9 (baseline " + base_name + " = 100)")


def _add_defined_matrix(ctx, name, rows, cols, values, col_label, paper):
    """A score matrix without the columns a zero baseline leaves undefined (named in the label)."""
    values = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(values).all(axis=0)
    dropped = [c for c, k in zip(cols, keep) if not k]
    label = col_label + (f"; undefined (baseline 0): {', '.join(dropped)}" if dropped else "")
    ctx.report.add_matrix(name=name, rows=rows, cols=[c for c, k in zip(cols, keep) if k],
                          values=values[:, keep].tolist(), row_label="model", col_label=label, paper=paper)


@suite("perturbation_seq")
def perturbation_suite(ctx):
    from eval.corruptions import ANP_TABLE10, flip_reference, perturbation_sequence
    from eval.metrics import corruption as cm
    c = ctx.config
    names = list(ANP_TABLE10)
    x = ctx.x[:c.sequence_examples]
    fps = {m.name: [] for m in ctx.models}
    for name in names:
        ctx.progress(f"CIFAR-10-P: {name}")
        seq = _as_float(perturbation_sequence(x, name, seed=c.seed, cache_dir=c.cache_dir))
        for model in ctx.models:
            fps[model.name].append(cm.flip_probability(cm.sequence_predictions(model, seq),
                                                       reference=flip_reference(name)))
    models = [m.name for m in ctx.models]
    for model in models:
        ctx.report.add_matrix(name="flip_probability", model=model, rows=[model], cols=names, values=[fps[model]],
                              row_label="model", col_label="perturbation", paper="CIFAR-10-P flip probability")
    own = {m: ({"rows": [m], "cols": names, "values": [fps[m]]}, None) for m in models}
    base_name, table = _baseline(ctx, "flip_probability", own)
    if base_name is None:
        return
    base_fp = dict(zip(table[base_name][0]["cols"], table[base_name][0]["values"][0]))
    rows = []
    for model in models:
        scores = cm.fr_scores(dict(zip(names, fps[model])), base_fp, names)
        rows.append([scores["FR"][n] for n in names] + [scores["mFR"]])
    _add_defined_matrix(ctx, "flip_rate", models, names + ["mFR"], rows, f"perturbation (% of {base_name})",
                        "ANP Table 10")


@suite("boundary")
def boundary_suite(ctx):
    from eval.metrics.boundary import boundary_distance
    c = ctx.config
    x = ctx.x[:c.boundary_examples]
    rows = []
    for model in ctx.models:
        ctx.progress(f"{model.name}: boundary distance ({c.directions} directions)")
        out = boundary_distance(model.model_fn("deterministic"), x, None, m=c.directions, seed=c.seed,
                                t_max=BOUNDARY_SEARCH_LIMIT)
        if np.isfinite(out["W_f_l2"]):
            rows.append([out["W_f_rms255"], out["W_f_l2"], float(out["unbroken"])])
        else:  # no ray crossed the boundary within the search limit: W_f is at least that limit (a lower bound)
            limit = BOUNDARY_SEARCH_LIMIT
            rows.append([255.0 * limit / np.sqrt(x[0].size), limit, float(out["unbroken"])])
        finite = [float(v) for v in out["d"] if np.isfinite(v)]
        if finite:  # no ray crossed the boundary for any image: nothing to draw (the matrix says "unbroken")
            ctx.report.add_histogram(name="boundary_distance", model=model.name, series=model.name, values=finite,
                                     x_label="min distance to the boundary (L2, [0,1] pixels)", paper="ANP eq. 3")
    ctx.report.add_matrix(name="worst_case_boundary_distance", rows=[m.name for m in ctx.models],
                          cols=["W_f (RMS, 0-255)", "W_f (L2, 0-1)", "unbroken"], values=rows, row_label="model",
                          col_label=f"{2 * c.directions} rays, {len(x)} images; mean over the images some ray "
                          f"breaks (all unbroken: the search limit, a lower bound)", paper="ANP eq. 3, Table 11")


@suite("insensitivity")
def insensitivity_suite(ctx):
    import zoo
    from eval.metrics import insensitivity as ins
    c = ctx.config
    x, y = ctx.x[:c.insensitivity_examples], ctx.y[:c.insensitivity_examples]
    for model in ctx.models:
        fn = model.model_fn(model.deterministic_mode(c.bpda))  # noise off; BPDA through rounding channels
        for method in ("fgsm", "pgd", "step_ll", "gaussian_noise", "shot_noise"):
            ctx.progress(f"{model.name}: noise insensitivity ({method})")
            values = [ins.noise_insensitivity(fn, x, y, method, e, copies=1 if method == "fgsm" else 10,
                                              seed=c.seed) for e in c.insensitivity_eps]
            ctx.report.add_curve(name=f"noise_insensitivity_{method}", model=model.name, series=model.name,
                                 x=[round(e * 255, 3) for e in c.insensitivity_eps], y=values,
                                 x_label="eps (x/255)", y_label="I_f(eps)", paper="ANP eq. 4, Fig. 8-9")
        keras_model = model.keras_model()
        rng = np.random.default_rng(c.seed)
        for method in ("pgd", "gaussian_noise"):
            polluted = ins.polluted(method, fn, x, y, c.eps, rng)
            with zoo.inference_noise(keras_model, False):
                per_layer = ins.hidden_insensitivity(keras_model, x, polluted)
            ctx.report.add_curve(name=f"hidden_insensitivity_{method}", model=model.name, series=model.name,
                                 x=list(range(1, len(per_layer) + 1)), y=list(per_layer.values()),
                                 x_label="ReLU layer (input to output)", y_label="relative activation change",
                                 paper="ANP Fig. 4, 13")


@suite("analysis")
def analysis_suite(ctx):
    from eval.metrics import analysis
    c = ctx.config
    x, y = ctx.x[:c.analysis_examples], ctx.y[:c.analysis_examples]
    k = min(c.gradient_norm_examples, len(x))
    for model in ctx.models:
        # M1 / M2 of the deterministic network (noise off; BPDA through rounding channels); the adversarial
        # examples are those of the model as served, crafted with its EOT and BPDA settings.
        fn = model.model_fn(model.deterministic_mode(c.bpda))
        ctx.progress(f"{model.name}: M1 / M2")
        eot, _, mode = attack_settings(model, c.eot, 1, c.bpda)
        x_adv = craft(model, "pgd", x, y, pgd_params(c, max(c.steps)), eot, mode, c.batch_size, c.eot_mode)
        for kind, data in (("natural", x), ("adversarial", x_adv)):
            pred = np.argmax(fn(data).numpy(), axis=1).astype(np.int32)
            m1, m2 = analysis.m1_m2(fn, data, pred, seed=c.seed)
            ctx.report.add_histogram(name=f"M1_{model.name}", model=model.name, series=kind, values=m1.tolist(),
                                     x_label="M1 = ||grad_x f_c(x)||_2", paper="Study sec. 2.4, 3.8")
            ctx.report.add_histogram(name=f"M2_{model.name}", model=model.name, series=kind, values=m2.tolist(),
                                     x_label="M2 = lambda_max of the input Hessian", paper="Study sec. 2.4, D.6")
        ctx.progress(f"{model.name}: gradient norms under noise")
        sigmas = [0.0, 0.01, 0.02, 0.04, 0.08]
        curves = analysis.gradient_norms_under_noise(fn, x[:k], y[:k].astype(np.int32), x_adv[:k], sigmas,
                                                     seed=c.seed)
        for (start, label), values in curves.items():
            ctx.report.add_curve(name=f"gradient_norm_{start}_{model.name}", model=model.name, series=label,
                                 x=sigmas, y=values, x_label="Gaussian noise sigma",
                                 y_label="||grad_x L(x, c)||_2", paper="Study Fig. 12-14")


@suite("saliency")
def saliency_suite(ctx):
    from eval.metrics.saliency import saliency_maps
    n = ctx.config.saliency_examples
    x, y = ctx.x[:n], ctx.y[:n]
    rows = [x.tolist()]
    for model in ctx.models:
        ctx.progress(f"{model.name}: saliency")
        maps = saliency_maps(model.keras_model(), x, y)
        rows.append(maps[..., None].tolist())
    ctx.report.add_image_grid(name="saliency", images=rows, row_labels=["input"] + [m.name for m in ctx.models],
                              col_labels=[f"label {int(v)}" for v in y], paper="ANP Fig. 5, 10")
