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

from eval.attacks import majority_vote, run_attack
from zoo.errors import ZooError, choice_error

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


def evaluate(model, x, y, attack="clean", params=None, eot=None, trials=None, bpda=None, seed=0, defense=None,
             batch_size=128, suite=None, eot_mode="gradient", votes=9):
    """One result row (see eval.report): accuracy mean and std over trials under ``attack``.

    ``model`` is a ``ServedModel`` or its ``noise_off()`` view; ``defense="majority_vote"`` predicts
    by the vote over ``votes`` passes (for crafting and clean alike).
    """
    params = dict(params or {})
    eot, trials, mode = attack_settings(model, eot, trials, bpda)
    start = time.time()
    accs, l2s = [], []
    for trial in range(trials):
        tf.random.set_seed(seed + trial)
        np.random.seed(seed + trial)
        x_adv = x if attack == "clean" else craft(model, attack, x, y, params, eot, mode, batch_size, eot_mode)
        pred = predict(model, x_adv, defense, votes)
        accs.append(float(np.mean(pred == y)))
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
