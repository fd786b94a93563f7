"""Input-channel studies of the perturbation study: accuracy vs distortion, transfer matrix, recovery.

* ``distortion_curves`` (study Fig. 1, App. D.1): each channel (FC, CD, SVD, Gauss, Uniform, Laplace)
  at increasing strength in front of the evaluated model; x = mean relative L2 distortion
  ||c(x) - x||_2 / ||x||_2 in %, y = test accuracy.
* ``transfer_matrix`` (study Table 1): adversarial examples crafted by PGD against model + channel A
  (BPDA through non-differentiable channels, one noise draw for random ones), accuracy of model +
  channel B on them.
* ``recovery_windows`` (study Fig. 2): Gaussian noise of growing sigma added to adversarial examples;
  the frequency with which the model then predicts the original, the adversarial or another class.
"""
import numpy as np
import tensorflow as tf

from eval.attacks import run_attack
from zoo.layers import make_channel

# (label, spec template, strengths): strengths sweep the channel from mild to strong.
SWEEPS = {
    "fft_compress": ("FC", "fft_compress:fraction={}", [1.0, 0.8, 0.6, 0.4, 0.2, 0.1]),
    "color_depth": ("CD", "color_depth:bits={}", [8, 6, 4, 3, 2, 1]),
    "svd_compress": ("SVD", "svd_compress:rank={}", [32, 24, 16, 8, 4, 2]),
    "gaussian": ("Gauss", "gaussian:stddev={}", [0.0, 0.01, 0.03, 0.05, 0.1, 0.2]),
    "uniform": ("Uniform", "uniform:epsilon={}", [0.0, 0.02, 0.05, 0.1, 0.2, 0.3]),
    "laplace": ("Laplace", "laplace:scale={}", [0.0, 0.01, 0.02, 0.05, 0.1, 0.15]),
}
# Table 1's channel settings: 30% FC compression, 4-bit CD, 50% SVD, noises of strength 0.03.
TABLE1 = {"FC": "fft_compress:fraction=0.7", "CD": "color_depth:bits=4", "SVD": "svd_compress:rank=16",
          "Gauss": "gaussian:stddev=0.03", "Uniform": "uniform:epsilon=0.03", "Laplace": "laplace:scale=0.03"}


def _apply(spec, x, bpda=False):
    layer = make_channel(spec)
    layer.bpda = bpda
    return layer(x, training=False)


def _channel_fn(model_fn, spec):
    layer = make_channel(spec)
    layer.bpda = True  # identity backward through non-differentiable channels
    return lambda x: model_fn(tf.clip_by_value(layer(x, training=False), 0.0, 1.0))


def distortion_curves(model, x, y, channels=tuple(SWEEPS), batch_size=256):
    curves = []
    fn = model.model_fn("deterministic")
    norm = np.sqrt((x ** 2).reshape(len(x), -1).sum(1)) + 1e-12
    for name in channels:
        label, template, strengths = SWEEPS[name]
        xs, ys = [], []
        for s in strengths:
            if min(x.shape[1:3]) < s and name == "svd_compress":
                continue
            out = np.clip(_apply(template.format(s), tf.constant(x)).numpy(), 0, 1)
            dist = np.sqrt(((out - x) ** 2).reshape(len(x), -1).sum(1)) / norm
            pred = np.concatenate([np.argmax(fn(out[i:i + batch_size]).numpy(), 1)
                                   for i in range(0, len(x), batch_size)])
            xs.append(100 * float(dist.mean()))
            ys.append(float((pred == y).mean()))
        curves.append(dict(name="accuracy_vs_distortion", model=model.name, series=label, x=xs, y=ys,
                           x_label="distortion ||c(x)-x|| / ||x|| (%)", y_label="test accuracy",
                           paper="Study Fig. 1, App. D.1"))
    return curves


def transfer_matrix(model, x, y, channels=TABLE1, params=None):
    params = {"eps": 8 / 255, "eps_iter": 2 / 255, "nb_iter": 20, **(params or {})}
    base = model.model_fn("deterministic")
    labels = list(channels)
    values = []
    for source in labels:
        x_adv = run_attack("pgd", _channel_fn(base, channels[source]), tf.constant(x), tf.constant(y), **params)
        row = []
        for target in labels:
            pred = np.argmax(base(tf.clip_by_value(_apply(channels[target], x_adv), 0, 1)).numpy(), 1)
            row.append(float((pred == y).mean()))
        values.append(row)
    return dict(name="transfer_matrix", model=model.name, rows=labels, cols=labels, values=values,
                row_label="attack crafted against model + channel", col_label="evaluated on model + channel",
                paper="Study Table 1 (accuracy on transferred PGD examples)")


def recovery_windows(model, x, y, sigmas=(0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12), draws=8, params=None, seed=0):
    params = {"eps": 8 / 255, "eps_iter": 2 / 255, "nb_iter": 20, **(params or {})}
    fn = model.model_fn("deterministic")
    x_adv = run_attack("pgd", fn, tf.constant(x), tf.constant(y), **params).numpy()
    adv_label = np.argmax(fn(x_adv).numpy(), 1)
    keep = adv_label != y  # successful adversarial examples only
    rng = np.random.default_rng(seed)
    freq = {"original class": [], "adversarial class": [], "other class": []}
    for sigma in sigmas:
        counts = np.zeros(3)
        for _ in range(draws):
            noisy = np.clip(x_adv[keep] + rng.normal(0, sigma, x_adv[keep].shape).astype(np.float32), 0, 1)
            pred = np.argmax(fn(noisy).numpy(), 1) if keep.any() else np.zeros(0)
            counts += [(pred == y[keep]).sum(), (pred == adv_label[keep]).sum(),
                       ((pred != y[keep]) & (pred != adv_label[keep])).sum()]
        total = max(counts.sum(), 1)
        for key, c in zip(freq, counts):
            freq[key].append(float(c / total))
    return [dict(name="recovery_window", model=model.name, series=key, x=list(map(float, sigmas)), y=v,
                 x_label="Gaussian noise sigma", y_label="frequency", paper="Study Fig. 2")
            for key, v in freq.items()], int(keep.sum())
