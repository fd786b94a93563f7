"""Accuracy, clean and under attack, with EOT, BPDA and trials applied as the model requires.

A random model (``ServedModel.is_random``) is evaluated over ``trials`` repetitions (PNI sec. 4.1:
"mean±std% with 5 trials"), each attack following the loss gradient averaged over ``eot``
stochastic passes (Athalye et al. 2018, EOT; ``eot_mode="logits"``: the gradient of the loss of the
averaged logits instead, ``eval.attacks.eot``); a model with non-differentiable parts is attacked
through its BPDA signature. Predictions are those of the model as served, or of its noise-off view
(``ServedModel.noise_off()``, rows with ``noise="off"``) for both prediction and attack.

Protocols (``PROTOCOLS``): ``default`` = the above (EOT 8 and 5 trials for random models, 1 and 1
otherwise); ``pni`` = PNI's tables (sec. 4.1): one noise draw per attack step (EOT 1) and mean ± std
over 5 trials for every model.
"""
import time

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context as tf_context

from eval.attacks import majority_vote, run_attack
from zoo.errors import ZooError, choice_error
from zoo.threat import LINF

PROTOCOLS = {"default": {}, "pni": {"eot": 1, "trials": 5}}


def _batches(n, batch_size):
    return [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def protocol_settings(protocol, eot=None, trials=None):
    """(eot, trials) under ``protocol``; one-line error when an explicit value contradicts it."""
    if protocol not in PROTOCOLS:
        raise choice_error("protocol", protocol, PROTOCOLS)
    fixed = PROTOCOLS[protocol]
    given = {"eot": eot, "trials": trials}
    for key, value in fixed.items():
        if given[key] is not None and int(given[key]) != value:
            raise ZooError(f"--protocol={protocol} fixes --{key}={value}; got --{key}={given[key]} "
                           "(drop one of the two flags)")
        given[key] = value
    return given["eot"], given["trials"]


def attack_settings(model, eot=None, trials=None, bpda=None):
    """(eot, trials, mode) for a model: EOT and trials only for random models unless overridden."""
    eot = eot if eot is not None else (8 if model.is_random else 1)
    trials = trials if trials is not None else (5 if model.is_random else 1)
    return max(1, int(eot)), max(1, int(trials)), model.attack_mode(bpda)


def predict(model, x, defense=None, votes=9, batch_size=256):
    """Labels of the served model, or its majority vote over ``votes`` passes (study App. D.4)."""
    if defense not in (None, "majority_vote"):
        raise ZooError(f"defense={defense!r}: expected None or 'majority_vote'")
    if defense == "majority_vote":
        fn = model.model_fn("served")
        return np.concatenate([np.asarray(majority_vote(fn, x[a:b], n=votes))
                               for a, b in _batches(len(x), batch_size)])
    return model.predict(x, "served", batch_size)


def craft(model, attack, x, y, params, eot, mode, batch_size=128, eot_mode="gradient"):
    """Adversarial examples for all of x, in batches (NumPy); EOT over ``eot`` draws in ``eot_mode``."""
    fn = model.model_fn(mode, eot, eot_mode)
    out = [run_attack(attack, fn, tf.constant(x[a:b]), tf.constant(y[a:b]), **params).numpy()
           for a, b in _batches(len(x), batch_size)]
    return np.concatenate(out)


def seed_tensorflow(seed):
    """Set TensorFlow's global seed to ``seed`` unless it already is.

    ``tf.random.set_seed`` clears TensorFlow's kernel and function caches, even with the seed it already had, so
    every traced attack is instantiated and optimised again at its next call: measured on robustnet_resnet20
    (AMD EPYC, 2 cores), FGSM with EOT 8 on 16 images took 12.3-13.2 s after each ``set_seed`` and 0.7 s
    without. The evaluations therefore seed TensorFlow once per seed value, and their trials follow each other
    on TensorFlow's random streams (NumPy is seeded per trial): a command gives the same numbers each time it
    runs, but a row can depend on the rows computed before it in the same process.
    """
    if tf_context.global_seed() != seed:
        tf.random.set_seed(seed)


def evaluate(model, x, y, attack="clean", params=None, eot=None, trials=None, bpda=None, seed=0, defense=None,
             batch_size=128, suite=None, eot_mode="gradient", votes=9, correct=None):
    """One result row (see eval.report): accuracy mean and std over trials under ``attack``.

    ``model`` is a ``ServedModel`` or its ``noise_off()`` view; ``defense="majority_vote"`` predicts
    by the vote over ``votes`` passes (for crafting and clean alike). ``correct``, a list, receives one
    boolean array per trial (example i classified correctly), for ``worst_case``.
    """
    params = dict(params or {})
    eot, trials, mode = attack_settings(model, eot, trials, bpda)
    start = time.time()
    accs, l2s = [], []
    seed_tensorflow(seed)
    for trial in range(trials):
        np.random.seed(seed + trial)
        x_adv = x if attack == "clean" else craft(model, attack, x, y, params, eot, mode, batch_size, eot_mode)
        pred = predict(model, x_adv, defense, votes)
        accs.append(float(np.mean(pred == y)))
        if correct is not None:
            correct.append(np.asarray(pred == y))
        if attack == "cw_l2":  # PNI Table 4: L2 of successful examples that were correctly classified
            success = (pred != y) & (predict(model, x, defense, votes) == y)
            dist = np.sqrt(((x_adv - x) ** 2).reshape(len(x), -1).sum(1))
            l2s.append(float(dist[success].mean()) if success.any() else float("nan"))
    row = dict(model=model.name, attack=attack, params=params, accuracy=float(np.mean(accs)),
               std=float(np.std(accs)), trials=trials, eot=1 if attack == "clean" else eot,
               bpda=attack != "clean" and mode in ("bpda", "deterministic_bpda"), seed=seed,
               seconds=round(time.time() - start, 2),
               num_examples=int(len(x)), noise=getattr(model, "noise", "on"))
    if row["eot"] > 1:
        row["eot_mode"] = eot_mode
    if defense:
        row["defense"] = defense
        if defense == "majority_vote":
            row["votes"] = int(votes)
    if suite:
        row["suite"] = suite
    if l2s:
        row["l2_distortion"] = float(np.nanmean(l2s)) if not np.all(np.isnan(l2s)) else None
    return row


def worst_case(correct_by_attack):
    """Per-trial worst case over attacks: (mean, std, trials) of the fraction of examples that no attack fooled.

    ``correct_by_attack`` is a list (one entry per attack, clean included) of per-trial boolean arrays
    (``evaluate(..., correct=...)``). An example counts as robust in trial t when every attack's trial t left
    it correct (each trial an independent pass of the whole run over the model's noise); the row reports the
    mean ± std over trials of that fraction (one trial for a deterministic model).
    """
    trials = min(len(c) for c in correct_by_attack)
    accs = [float(np.mean(np.logical_and.reduce([c[t] for c in correct_by_attack]))) for t in range(trials)]
    return float(np.mean(accs)), float(np.std(accs)), trials


AUTOATTACK_VERSIONS = ("auto", "standard", "rand")
AUTOATTACK_EOT = 20  # AutoAttack "rand": EOT over 20 draws (Croce & Hein 2020, sec. 5 / their code)


AUTOATTACK_NORMS = ("linf", "l2")


def autoattack_plan(version, eps, apgd_iterations=100, square_queries=5000, norm="linf"):
    """[(attack, params)] of an AutoAttack version (Croce & Hein 2020 sec. 5): ``standard`` = APGD-CE,
    APGD-T (9 targets), FAB-T (9 targets, ``apgd_iterations`` iterations as APGD) and Square (5,000 queries);
    ``rand`` = APGD-CE and APGD-DLR (with EOT 20). ``norm="l2"``: the same attacks in L2 (``<name>_l2``)."""
    if norm not in AUTOATTACK_NORMS:
        raise choice_error("autoattack norm", norm, AUTOATTACK_NORMS)
    s = "" if norm == "linf" else "_l2"
    apgd = {"eps": eps, "steps": int(apgd_iterations), "n_restarts": 1}
    if version == "standard":
        return [("apgd_ce" + s, apgd), ("apgd_t" + s, {**apgd, "n_target_classes": 9}),
                ("fab_t" + s, {"eps": eps, "steps": int(apgd_iterations), "n_target_classes": 9}),
                ("square" + s, {"eps": eps, "n_queries": int(square_queries)})]
    if version == "rand":
        return [("apgd_ce" + s, apgd), ("apgd_dlr" + s, apgd)]
    raise choice_error("autoattack version", version, AUTOATTACK_VERSIONS[1:])


def resolve_autoattack_version(model, version="auto"):
    """``standard`` for a deterministic model, ``rand`` for a random one (``model.is_random``), unless given."""
    if version not in AUTOATTACK_VERSIONS:
        raise choice_error("autoattack_version", version, AUTOATTACK_VERSIONS)
    if version == "auto":
        return "rand" if model.is_random else "standard"
    return version


def autoattack(model, x, y, version="auto", eps=LINF.eps, eot=None, trials=None, bpda=None, seed=0, batch_size=128,
               eot_mode="gradient", apgd_iterations=100, square_queries=5000, progress=None, norm="linf"):
    """AutoAttack (Croce & Hein 2020): each attack of the version runs only on the points still robust.

    Returns (version, stages, per-stage (mean, std), eot, trials, mode, seconds, correct): stage 0 is clean,
    stage k the robust accuracy after the first k attacks (cumulative, as AutoAttack's log); ``correct`` holds
    the per-trial boolean arrays of the examples no attack fooled (for ``worst_case``). Robust
    means: the model as served (one draw for a random model) classifies the attack's x_adv correctly;
    per trial t (TensorFlow seeded once with ``seed``, NumPy with seed + t: ``seed_tensorflow``) for random
    models, reported as mean ± std over trials. ``rand`` uses EOT over 20 draws unless ``eot`` is given.
    ``norm``: ``linf`` (``eps`` e.g. 8/255) or ``l2`` (e.g. 0.5).
    """
    version = resolve_autoattack_version(model, version)
    if version == "rand" and eot is None:
        eot = AUTOATTACK_EOT
    eot, trials, mode = attack_settings(model, eot, trials, bpda)
    plan = autoattack_plan(version, eps, apgd_iterations, square_queries, norm)
    start = time.time()
    per_trial, correct = [], []
    seed_tensorflow(seed)
    for trial in range(trials):
        np.random.seed(seed + trial)
        robust = predict(model, x) == y
        curve = [float(np.mean(robust))]
        for name, params in plan:
            todo = np.flatnonzero(robust)
            if progress:
                progress(f"{model.name}: autoattack {name} on {len(todo)} robust points (trial {trial + 1}/{trials})")
            if len(todo):
                x_adv = craft(model, name, x[todo], y[todo], params, eot, mode, batch_size, eot_mode)
                robust[todo] &= predict(model, x_adv) == y[todo]
            curve.append(float(np.mean(robust)))
        per_trial.append(curve)
        correct.append(robust)
    values = np.asarray(per_trial)
    stages = ["clean"] + [name for name, _ in plan]
    return dict(version=version, stages=stages, plan=plan, accuracy=values.mean(0).tolist(),
                std=values.std(0).tolist(), eot=eot, trials=trials, mode=mode,
                seconds=round(time.time() - start, 2), correct=correct)
