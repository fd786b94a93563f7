"""The five gradient-obfuscation checks of Athalye et al. (2018), evaluated automatically (PNI Table 7).

Each check compares accuracies the suite measured and passes or fails with the numbers behind it:
1. one-step attacks (FGSM) do not beat iterative ones (PGD);
2. black-box attacks (SPSA) do not beat white-box ones;
3. an unbounded attack (eps = 1: the whole image box) reaches (almost) 100 % success;
4. random sampling in the eps-ball does not find adversarial examples the gradient attack missed
   (accuracy under random sampling >= accuracy under PGD);
5. a larger distortion bound never helps the defender (accuracy non-increasing in eps).
A tolerance of two standard deviations plus one example absorbs the trials' noise.
"""
import numpy as np


def _tol(*rows):
    n = max(r["num_examples"] for r in rows)
    return 2 * max(r["std"] for r in rows) + 1.0 / max(n, 1)


def random_sampling(model, x, y, eps, samples=16, seed=0, batch_size=256):
    """Accuracy when each example counts as broken if any of ``samples`` uniform points in its ball is."""
    rng = np.random.default_rng(seed)
    correct = np.ones(len(x), dtype=bool)
    for _ in range(samples):
        noisy = np.clip(x + rng.uniform(-eps, eps, size=x.shape).astype(np.float32), 0.0, 1.0)
        correct &= model.predict(noisy, "served", batch_size) == y
    return float(correct.mean())


def checks(model, rows, eps_curve, random_acc, eps):
    """Five check dicts from result rows keyed by label ('fgsm', 'pgd', 'spsa', 'unbounded')."""
    out = []
    fgsm, pgd, spsa, unbounded = rows["fgsm"], rows["pgd"], rows.get("spsa"), rows["unbounded"]
    paper = "Athalye et al. 2018 sec. 3.1; PNI Table 7"

    def add(name, passed, numbers, explanation):
        out.append(dict(name=name, model=model.name, passed=bool(passed), numbers=numbers,
                        explanation=explanation, paper=paper))

    add("one-step attack not stronger than iterative", fgsm["accuracy"] >= pgd["accuracy"] - _tol(fgsm, pgd),
        {"fgsm_accuracy": fgsm["accuracy"], "pgd_accuracy": pgd["accuracy"]},
        "FGSM leaving fewer correct than PGD would mean the gradient misleads iterative steps")
    if spsa is not None:
        add("black-box attack not stronger than white-box", spsa["accuracy"] >= pgd["accuracy"] - _tol(spsa, pgd),
            {"spsa_accuracy": spsa["accuracy"], "pgd_accuracy": pgd["accuracy"]},
            "a gradient-free attack beating PGD means the gradients are not useful")
    add("unbounded attack reaches ~100% success", unbounded["accuracy"] <= 0.05 + _tol(unbounded),
        {"unbounded_accuracy": unbounded["accuracy"], "eps": unbounded["params"].get("eps")},
        "with the whole image box as budget every input can be made adversarial")
    add("random sampling does not beat the gradient attack", random_acc >= pgd["accuracy"] - _tol(pgd),
        {"random_sampling_accuracy": random_acc, "pgd_accuracy": pgd["accuracy"], "eps": eps},
        "random points in the eps-ball finding more errors than PGD means PGD is blind")
    ys = eps_curve["y"]
    tol = 2 * max(eps_curve.get("std") or [0]) + 1.0 / max(rows["pgd"]["num_examples"], 1)
    monotone = all(b <= a + tol for a, b in zip(ys, ys[1:]))
    add("larger distortion bound never helps the defender", monotone,
        {"eps_x255": eps_curve["x"], "accuracy": ys},
        "accuracy must not rise when the attacker gets a larger budget")
    return out

