"""Corruption robustness: CE, mCE, relative mCE on CIFAR-10-C and FP, FR, mFR on CIFAR-10-P.

Definitions (ANP appendix "Corruption robustness", after Hendrycks & Dietterich 2019):

* CE_c = sum_s E_{s,c} / sum_s E^base_{s,c}; mCE = mean of CE_c over the 15 benchmark corruptions;
* relative CE_c = sum_s (E_{s,c} - E_clean) / sum_s (E^base_{s,c} - E^base_clean); relative mCE = mean;
* FP_p = 1 / (m (n - 1)) sum_i sum_{j>=2} 1(F(x_j^i) != F(x_{j-1}^i)) over m sequences of n frames;
  for the noise sequences (Gaussian, shot, speckle noise: frames are independent draws, not a path)
  every frame is compared with the first, 1(F(x_j^i) != F(x_1^i)) (Hendrycks & Dietterich sec. 4,
  ``flip_prob`` of their ``cifar-p-eval.py``); ``reference="first"`` / ``"previous"``;
  FR_p = FP_p / FP^base_p; mFR = mean over perturbations.

E are error rates (1 - accuracy) of the model as served; a ratio whose baseline denominator is 0 is undefined (NaN) and left out of
the mean; the baseline's come from a baseline model
(the plain model by convention), so the baseline scores 100 (%) by construction. Scores are in %.
"""
import numpy as np


STREAM = 2000  # images converted to float32 at a time (a 10,000-image uint8 set would be 123 MB as float32)


def as_float(images):
    """float32 in [0,1] from uint8 0-255 (CIFAR-10-C's storage) or float images."""
    images = np.asarray(images)
    return images.astype(np.float32) / np.float32(255.0) if images.dtype == np.uint8 else images.astype(np.float32)


def set_error(model, images, y, batch_size=256):
    """Error rate of the model as served on one image set (uint8 or float, possibly memory-mapped), converted to
    float32 ``STREAM`` images at a time so that memory does not grow with the set."""
    wrong = 0
    for start in range(0, len(images), STREAM):
        pred = model.predict(as_float(images[start:start + STREAM]), "served", batch_size)
        wrong += int(np.sum(pred != np.asarray(y[start:start + STREAM])))
    return wrong / max(len(images), 1)


def corruption_errors(model, corrupted, y, batch_size=256):
    """{corruption: [E_1, ..., E_5]} for ``corrupted[(name, severity)]`` image arrays (uint8, or float in [0,1])."""
    errors = {}
    for (name, severity), images in sorted(corrupted.items()):
        errors.setdefault(name, {})[severity] = set_error(model, images, y, batch_size)
    return {name: [by_sev[s] for s in sorted(by_sev)] for name, by_sev in errors.items()}


def ce_scores(errors, clean_error, base_errors, base_clean_error, names):
    """CE and relative CE per corruption (in %), mCE and relative mCE over ``names``.

    A corruption whose baseline denominator is 0 (the baseline made no error on it, or its errors equal
    its clean error) has an undefined ratio: its CE is NaN, it is named in ``undefined_CE`` /
    ``undefined_relative_CE`` and left out of the mean (NaN when no corruption is defined).
    """
    ce, rel = {}, {}
    for name in names:
        e, b = np.asarray(errors[name], np.float64), np.asarray(base_errors[name], np.float64)
        ce[name] = _ratio(e.sum(), b.sum())
        rel[name] = _ratio((e - clean_error).sum(), (b - base_clean_error).sum())
    return {"CE": ce, "mCE": _defined_mean(ce, names), "relative_CE": rel,
            "relative_mCE": _defined_mean(rel, names),
            "undefined_CE": [n for n in names if not np.isfinite(ce[n])],
            "undefined_relative_CE": [n for n in names if not np.isfinite(rel[n])]}


def _ratio(numerator, denominator):
    """100 * numerator / denominator in %, NaN where the denominator is 0 (undefined, not 0 or inf)."""
    return 100.0 * float(numerator) / float(denominator) if abs(denominator) > 1e-12 else float("nan")


def _defined_mean(scores, names):
    values = [scores[n] for n in names if np.isfinite(scores[n])]
    return float(np.mean(values)) if values else float("nan")


FP_REFERENCES = ("previous", "first")


def flip_probability(predictions, reference="previous"):
    """FP for predictions [m sequences, n frames]: the rate of label changes against ``reference``.

    ``"previous"``: frame j against frame j-1 (smooth sequences); ``"first"``: frame j against frame 1
    (noise sequences, Hendrycks & Dietterich 2019 sec. 4). Labels [0, 1, 1, 1] give 1/3 and 3/3.
    """
    p = np.asarray(predictions)
    if reference not in FP_REFERENCES:
        raise ValueError(f"flip_probability reference={reference!r}: expected one of {', '.join(FP_REFERENCES)}")
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"flip_probability predictions of shape {p.shape}: expected [sequences, frames >= 2]")
    before = p[:, :1] if reference == "first" else p[:, :-1]
    return float(np.mean(p[:, 1:] != before))


def sequence_predictions(model, sequences, batch_size=256):
    """Predicted labels [m, n] for sequences [m, n, H, W, C] (uint8 or float), converted ``STREAM`` frames at a time."""
    m, n = sequences.shape[:2]
    flat = np.asarray(sequences).reshape(m * n, *sequences.shape[2:])
    parts = [model.predict(as_float(flat[i:i + STREAM]), "served", batch_size) for i in range(0, m * n, STREAM)]
    return np.concatenate(parts).reshape(m, n) if parts else np.zeros((m, n), np.int64)


def fr_scores(fp, base_fp, names):
    """FR per perturbation (in %) and mFR."""
    fr = {name: _ratio(fp[name], base_fp[name]) for name in names}
    return {"FR": fr, "mFR": _defined_mean(fr, names), "undefined_FR": [n for n in names if not np.isfinite(fr[n])]}
