"""Attack suites: whitebox (with the worst case and the eps / steps curves), autoattack, blackbox, transfer and
obfuscation."""
import numpy as np

from eval.attacks import get as get_attack
from eval.metrics import obfuscation
from eval.metrics.robustness import attack_settings, autoattack, craft, predict, worst_case
from eval.suites.context import ATTACK_PARAMS, pgd_params, suite
from zoo.threat import ThreatModel


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
        add_worst_case(ctx, model, budget, "whitebox", extra=_autoattack_run(ctx, model, "linf", c.eps))


def _label(attack, params):
    return attack + (f"-{params['steps']}" if "steps" in params else "")


def _autoattack_run(ctx, model, norm, eps):
    """[(label, per-trial correct arrays, eot)] of an autoattack suite run earlier in this run on ``model`` in
    this threat model (empty when there was none): the whitebox worst case then covers AutoAttack too."""
    run = ctx.autoattack_runs.get(model.name)
    if not run or run["norm"] != norm or abs(run["eps"] - eps) > 1e-12:
        return []
    return [(f"autoattack-{run['version']}", run["correct"], run["eot"])]


def _whitebox_runs(ctx, model, norm, eps):
    """[(label, per-trial correct arrays, eot)] of every attack computed earlier in this run (whitebox, and any
    other suite's rows) on ``model`` in this threat model (no defense), for the autoattack suite's worst case
    over the whole run."""
    out = []
    for (name, attack, params, defense), row in ctx.cached_results():
        if name != model.name or defense or attack == "clean" or get_attack(attack).norm != norm:
            continue
        if abs(float(params.get("eps", -1)) - eps) < 1e-12:
            out.append((_label(attack, params), ctx.correct(model, attack, params), row["eot"]))
    return out


def add_worst_case(ctx, model, attacks, suite_name, extra=()):
    """The row ``worst_case``: the fraction of examples that neither clean evaluation nor any of ``attacks``
    ([(attack, params)], one threat model) nor any of ``extra`` ([(label, per-trial correct, eot)]: an earlier
    AutoAttack run in that threat model) fooled, per trial, mean ± std over trials
    (``eval.metrics.robustness.worst_case``)."""
    if not attacks:
        return None
    base = ctx.result(model, "clean")
    correct = ([ctx.correct(model, "clean")] + [ctx.correct(model, a, p) for a, p in attacks]
               + [c for _, c, _ in extra])
    acc, std, trials = worst_case(correct)
    labels = [_label(a, p) for a, p in attacks] + [label for label, _, _ in extra]
    rows = [ctx.result(model, a, p) for a, p in attacks]
    eot = max([r["eot"] for r in [base] + rows] + [e for _, _, e in extra])
    row = dict(model=model.name, attack="worst_case", params={"eps": ctx.config.eps, "attacks": labels},
               accuracy=acc, std=std, trials=trials, eot=eot, bpda=any(r["bpda"] for r in rows),
               seed=ctx.config.seed, seconds=0.0, num_examples=int(len(ctx.x)), noise=getattr(model, "noise", "on"),
               suite=suite_name, notes="examples that no attack of the run fooled (per trial: " + ", ".join(labels)
               + ")", **({"eot_mode": ctx.config.eot_mode} if eot > 1 else {}))
    ctx.report.add_result(**row)
    return row


@suite("autoattack")
def autoattack_suite(ctx):
    """AutoAttack (Croce & Hein 2020): ``standard`` (APGD-CE, APGD-T, FAB-T, Square) for
    deterministic models, ``rand`` (APGD-CE, APGD-DLR with EOT 20) for random ones (``--autoattack_version``);
    each attack only on the points still robust; rows of the cumulative robust accuracy and a matrix."""
    c = ctx.config
    eps = c.eps if c.autoattack_norm == "linf" else c.eps_l2
    for model in ctx.attack_models:
        eot, trials = c.model_settings(model)
        out = autoattack(model, ctx.x, ctx.y, c.autoattack_version, eps, eot=eot, trials=trials, bpda=c.bpda,
                         seed=c.seed, batch_size=c.batch_size, eot_mode=c.eot_mode, apgd_iterations=c.apgd_iterations,
                         square_queries=c.square_queries, progress=ctx.progress, norm=c.autoattack_norm)
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
        # The worst case over the whole run: AutoAttack and every attack an earlier suite (whitebox) ran on this
        # model in the same threat model; with none, AutoAttack's own robust accuracy.
        others = _whitebox_runs(ctx, model, c.autoattack_norm, eps)
        acc, std, _ = worst_case([out["correct"]] + [correct for _, correct, _ in others])
        ctx.autoattack_runs[model.name] = dict(norm=c.autoattack_norm, eps=eps, version=out["version"],
                                               correct=out["correct"], eot=out["eot"])
        labels = out["stages"][1:] + [label for label, _, _ in others]
        worst_eot = max([out["eot"]] + [e for _, _, e in others])
        ctx.report.add_result(**common, eot=worst_eot, **({"eot_mode": c.eot_mode} if worst_eot > 1 else {}),
                              attack="worst_case", params={"eps": eps, "version": out["version"], "attacks": labels},
                              accuracy=acc, std=std, seconds=0.0,
                              notes="examples that no attack of the run fooled (AutoAttack's robust accuracy"
                                    + (", and " + ", ".join(label for label, _, _ in others) + " computed "
                                       "earlier in the run" if others else "") + ")")
        ctx.report.add_matrix(name="autoattack_cumulative", model=model.name, rows=[model.name],
                              cols=out["stages"], values=[out["accuracy"]], row_label="model",
                              col_label=f"robust accuracy after each attack, cumulative ({out['version']}, "
                                        f"{ThreatModel(c.autoattack_norm, eps, 0.0, 1).describe()})",
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
        eot, _, mode = attack_settings(source, c.model_settings(source)[0], 1, c.bpda)
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
                "unbounded": ctx.result(model, "pgd", {"eps": 1.0, "step_size": 0.1, "steps": max(c.steps)},
                                        suite_name="obfuscation")}
        ctx.progress(f"{model.name}: random sampling")
        random_acc = obfuscation.random_sampling(model, ctx.x, ctx.y, c.eps, seed=c.seed)
        _, eps_curve = curve_rows(ctx, model, "eps")
        for check in obfuscation.checks(model, rows, eps_curve, random_acc, c.eps):
            ctx.report.add_check(**check)
