"""The suite registry (``SUITES``, ``@suite``), the ``Context`` the suites share, and attack parameters."""
import json

from eval.metrics.robustness import evaluate
from zoo.registry import Registry
from zoo.threat import L2, LINF

SUITES = Registry("suite")  # name -> fn(ctx)


def suite(name):
    """Decorator: register ``fn(ctx)`` as the eval suite ``name`` (``--suite=name``)."""
    return SUITES.register(name)


class Context:
    """Models, data, config, report and a cache so that suites share results."""

    def __init__(self, config, models, x, y, report, progress, journal=None):
        self.config, self.models, self.x, self.y, self.report = config, models, x, y, report
        self.progress = progress
        self.journal = journal  # eval.suites.journal.Journal: rows of an interrupted run are read back from it
        self._cache = {}
        self._correct = {}  # cache key -> per-trial boolean arrays (example classified correctly)
        self.autoattack_runs = {}  # model name -> the autoattack suite's run (norm, eps, version, correct, eot)

    def settings(self, model):
        c = self.config
        eot, trials = c.model_settings(model)
        return dict(eot=eot, trials=trials, bpda=c.bpda, seed=c.seed, batch_size=c.batch_size,
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
            journal_key = (len(self.x),) + key  # the clean-accuracy context and the attack context share a journal
            journaled = self.journal.get(journal_key) if self.journal is not None and x is None else None
            if journaled is not None:
                row, correct = journaled
            else:
                self.progress(f"{model.name}: {attack} {_short(params)}")
                correct = []
                row = evaluate(model, self.x if x is None else x, self.y if y is None else y, attack, params,
                               defense=defense, suite=suite_name, correct=correct, **self.settings(model))
                if self.journal is not None and x is None:
                    self.journal.put(journal_key, row, correct)
            self._cache[key] = row
            self._correct[key] = correct
            if record:
                self.report.add_result(**row)
        return self._cache[key]

    def cached_results(self):
        """[((model name, attack, params dict, defense), row)] of every result computed so far."""
        return [((name, attack, json.loads(params), defense), row)
                for (name, attack, params, defense), row in self._cache.items()]

    def correct(self, model, attack, params=None, defense=None):
        """Per-trial boolean arrays of a row computed by ``result`` (example i classified correctly)."""
        return self._correct[(model.name, attack, json.dumps(params or {}, sort_keys=True, default=str), defense)]


def _short(params):
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in (params or {}).items())


def pgd_params(config, steps, eps=None):
    """PGD-k at ``eps`` (default ``--eps``) with ``--step_size``, or eps itself where the budget is smaller
    (``zoo.threat.ThreatModel.step_for``; the step used is in the report row's params)."""
    return LINF.pgd(steps=steps, eps=config.eps if eps is None else eps, step_size=config.step_size)


ATTACK_PARAMS = {
    "fgsm": lambda c: {"eps": c.eps},
    "bim": lambda c: {"eps": c.eps, "step_size": c.step_size, "steps": 10},
    "mifgsm": lambda c: {"eps": c.eps, "step_size": c.step_size, "steps": 10},
    "step_ll": lambda c: {"eps": c.eps},
    "pgd_l2": lambda c: {"eps": c.eps_l2, "step_size": L2.step_size, "steps": L2.steps},  # recorded in the row
    "cw_l2": lambda c: {"max_iterations": c.cw_iterations},
    "spsa": lambda c: {"eps": c.eps, "steps": 10},
    "partial_adaptive": lambda c: {},             # Study Table 1's C&W L2 through a Laplace surrogate
    "partial_adaptive_unlimited": lambda c: {},   # Study Fig. 11: many Laplace draws per pass
    "partial_adaptive_pgd": lambda c: {"eps": c.eps, "step_size": min(c.step_size, c.eps)},
    "apgd_ce": lambda c: {"eps": c.eps, "steps": c.apgd_iterations},
    "apgd_dlr": lambda c: {"eps": c.eps, "steps": c.apgd_iterations},
    "apgd_t": lambda c: {"eps": c.eps, "steps": c.apgd_iterations},
    "square": lambda c: {"eps": c.eps, "n_queries": c.square_queries},
}
