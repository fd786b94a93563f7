"""The suites of ``python -m eval``: each runs metrics on the loaded models and fills the report.

| suite | what it measures | paper |
|---|---|---|
| whitebox | clean accuracy; FGSM, PGD-7/20 (L-inf), BIM, MI-FGSM, Step-LL, PGD-L2, C&W-L2 (+ mean L2 distortion); accuracy vs eps and vs steps; optional majority vote | PNI sec. 4.1, Tables 2-4, Fig. 3; Study D.4 |
| blackbox | SPSA (gradient-free) | Uesato et al. 2018; PNI sec. 4.2.2 |
| transfer | PGD examples crafted on each model, accuracy of every model on them | PNI sec. 4.2.2; Study Table 1 |
| obfuscation | the five checks of Athalye et al. with their numbers | PNI Table 7 |
| channels | accuracy vs input distortion of six channels, transfer matrix between channel defenses, recovery windows, the partially adaptive attack | Study Fig. 1, Table 1, Fig. 2, sec. 3.4 |

Random models get EOT and mean±std over trials, non-differentiable ones BPDA, automatically
(``eval.metrics.robustness.attack_settings``); the report records what was used.
"""
import dataclasses
import json

import numpy as np

from eval.metrics import channels as channel_metrics
from eval.metrics import obfuscation
from eval.metrics.robustness import attack_settings, craft, evaluate, predict

EPS = 8 / 255
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

    def settings(self, model):
        c = self.config
        return dict(eot=c.eot, trials=c.trials, bpda=c.bpda, seed=c.seed, batch_size=c.batch_size)

    def result(self, model, attack, params=None, defense=None, suite_name=None, record=True, x=None, y=None):
        key = (model.name, attack, json.dumps(params or {}, sort_keys=True, default=str), defense)
        if key not in self._cache:
            self.progress(f"{model.name}: {attack} {_short(params)}")
            row = evaluate(model, self.x if x is None else x, self.y if y is None else y, attack, params,
                           defense=defense, suite=suite_name, **self.settings(model))
            self._cache[key] = row
            if record:
                self.report.add_result(**row)
        return self._cache[key]


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
}


@suite("whitebox")
def whitebox(ctx):
    c = ctx.config
    for model in ctx.models:
        ctx.result(model, "clean", suite_name="whitebox")
        for attack in c.attacks:
            if attack == "pgd":
                for steps in c.steps:
                    ctx.result(model, "pgd", pgd_params(c, steps), suite_name="whitebox")
            else:
                ctx.result(model, attack, ATTACK_PARAMS[attack](c), suite_name="whitebox")
        if c.majority_vote and model.is_random:
            ctx.result(model, "clean", defense="majority_vote", suite_name="whitebox")
            ctx.result(model, "pgd", pgd_params(c, max(c.steps)), defense="majority_vote", suite_name="whitebox")
        _, eps_curve = curve_rows(ctx, model, "eps")
        _, steps_curve = curve_rows(ctx, model, "steps")
        ctx.report.add_curve(**eps_curve)
        ctx.report.add_curve(**steps_curve)


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
    for model in ctx.models:
        ctx.result(model, "spsa", ATTACK_PARAMS["spsa"](ctx.config), suite_name="blackbox")


@suite("transfer")
def transfer(ctx):
    """Rows: source model the PGD examples were crafted on; columns: model evaluated on them."""
    c = ctx.config
    names = [m.name for m in ctx.models]
    values = []
    for source in ctx.models:
        eot, _, mode = attack_settings(source, c.eot, 1, c.bpda)
        ctx.progress(f"transfer: crafting on {source.name}")
        x_adv = craft(source, "pgd", ctx.x, ctx.y, pgd_params(c, max(c.steps)), eot, mode, c.batch_size)
        values.append([float(np.mean(predict(target, x_adv) == ctx.y)) for target in ctx.models])
    ctx.report.add_matrix(name="transfer_matrix_models", rows=names, cols=names, values=values,
                          row_label="source (PGD crafted on)", col_label="target (evaluated)",
                          paper="PNI sec. 4.2.2 transferable attack; Study Table 1")


@suite("obfuscation")
def obfuscation_suite(ctx):
    c = ctx.config
    for model in ctx.models:
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
    for model in ctx.models:
        ctx.progress(f"{model.name}: accuracy vs distortion")
        for curve_dict in channel_metrics.distortion_curves(model, ctx.x, ctx.y):
            ctx.report.add_curve(**curve_dict)
        ctx.progress(f"{model.name}: channel transfer matrix")
        ctx.report.add_matrix(**channel_metrics.transfer_matrix(model, ctx.x, ctx.y,
                                                                params=pgd_params(c, max(c.steps))))
        ctx.progress(f"{model.name}: recovery windows")
        curves, n = channel_metrics.recovery_windows(model, ctx.x, ctx.y, params=pgd_params(c, max(c.steps)),
                                                     seed=c.seed)
        for curve_dict in curves:
            ctx.report.add_curve(**{**curve_dict, "series": curve_dict["series"]})
        ctx.result(model, "partial_adaptive", {"eps": c.eps}, suite_name="channels")
