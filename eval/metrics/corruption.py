"""Corruption robustness: CE, mCE, relative mCE on CIFAR-10-C and FP, FR, mFR on CIFAR-10-P.

Definitions (ANP appendix "Corruption robustness", after Hendrycks & Dietterich 2019):

* CE_c = sum_s E_{s,c} / sum_s E^base_{s,c}; mCE = mean of CE_c over the 15 benchmark corruptions;
* relative CE_c = sum_s (E_{s,c} - E_clean) / sum_s (E^base_{s,c} - E^base_clean); relative mCE = mean;
* FP_p = 1 / (m (n - 1)) sum_i sum_{j>=2} 1(F(x_j^i) != F(x_{j-1}^i)) over m sequences of n frames;
  FR_p = FP_p / FP^base_p; mFR = mean over perturbations.

E are error rates (1 - accuracy) of the model as served; a ratio whose baseline denominator is 0 is undefined (NaN) and left out of
the mean; the baseline's come from a baseline model
(the plain model by convention), so the baseline scores 100 (%) by construction. Scores are in %.
"""
import numpy as np


def corruption_errors(model, corrupted, y, batch_size=256):
    """{corruption: [E_1, ..., E_5]} for ``corrupted[(name, severity)]`` image arrays in [0,1]."""
    errors = {}
    for (name, severity), images in sorted(corrupted.items()):
        pred = model.predict(np.asarray(images, dtype=np.float32), "served", batch_size)
        errors.setdefault(name, {})[severity] = float(np.mean(pred != y))
    return {name: [by_sev[s] for s in sorted(by_sev)] for name, by_sev in errors.items()}


def ce_scores(errors, clean_error, base_errors, base_clean_error, names):
    """CE and relative CE per corruption (in %), mCE and relative mCE over ``names``."""
    ce, rel = {}, {}
    for name in names:
        e, b = np.asarray(errors[name]), np.asarray(base_errors[name])
        ce[name] = 100.0 * e.sum() / max(b.sum(), 1e-12)
        denominator = (b - base_clean_error).sum()
        rel[name] = 100.0 * (e - clean_error).sum() / denominator if abs(denominator) > 1e-12 else float("nan")
    return {"CE": ce, "mCE": float(np.mean([ce[n] for n in names])), "relative_CE": rel,
            "relative_mCE": float(np.nanmean([rel[n] for n in names]))}


def flip_probability(predictions):
    """FP for predictions [m sequences, n frames]: the rate of label changes between consecutive frames."""
    p = np.asarray(predictions)
    return float(np.mean(p[:, 1:] != p[:, :-1]))


def sequence_predictions(model, sequences, batch_size=256):
    """Predicted labels [m, n] for sequences [m, n, H, W, C]."""
    m, n = sequences.shape[:2]
    flat = np.asarray(sequences, dtype=np.float32).reshape(m * n, *sequences.shape[2:])
    return model.predict(flat, "served", batch_size).reshape(m, n)


def fr_scores(fp, base_fp, names):
    """FR per perturbation (in %) and mFR."""
    fr = {name: 100.0 * fp[name] / base_fp[name] if base_fp[name] > 0 else float("nan") for name in names}
    return {"FR": fr, "mFR": float(np.nanmean([fr[n] for n in names]))}
