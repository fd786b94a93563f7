"""Input-channel studies of the perturbation study: accuracy vs distortion, transfer matrix, recovery.

* ``distortion_curves`` (study Fig. 1, App. D.1): each channel (FC, CD, SVD, Gauss, Uniform, Laplace)
  at increasing strength in front of the evaluated model; x = mean relative L2 distortion
  ||c(x) - x||_2 / ||x||_2 in %, y = test accuracy.
* ``transfer_matrix`` (study Table 1): adversarial examples crafted by the adaptive C&W L2 attack
  against model + channel A (100 iterations, 5 binary-search steps, initial c 0.01: ``TABLE1_CW``),
  accuracy of model + channel B on them; row "Empty" is the clean accuracy of model + channel B.
  Channels as published (``TABLE1``): FC 30 % compression, CD 4 bits, SVD 50 % compression, Gauss
  0.03, Uniform 0.04, Laplace 0.03. ``attack="pgd"`` crafts with PGD L-inf instead.
* ``recovery_windows`` (study Fig. 2): Gaussian noise of growing sigma added to adversarial examples;
  the frequency with which the model then predicts the original, the adversarial or another class.

Gradients: the model is the deterministic network (noise off). Crafting follows
``model.deterministic_mode()``: ``"deterministic_bpda"`` when the model has non-differentiable parts
(its own ColorDepth / SVD layers pass the gradient as the identity, BPDA), and the channel in front
of it is built here with its ``bpda`` switch on (identity backward through CD and SVD; FC and the
noises are differentiable). A random channel draws fresh noise on every forward pass (one draw per
attack step: the study's single noise injection). Predictions use the plain ``"deterministic"`` mode
and the channel without BPDA (the same forward function).
"""
import numpy as np
import tensorflow as tf

from eval.attacks import run_attack
from eval.attacks.own import STUDY_CW
from zoo.errors import choice_error
from zoo.layers import make_channel
from zoo.threat import LINF

# (label, spec template, strengths): strengths sweep the channel from mild to strong.
SWEEPS = {
    "fft_compress": ("FC", "fft_compress:fraction={}", [1.0, 0.8, 0.6, 0.4, 0.2, 0.1]),
    "color_depth": ("CD", "color_depth:bits={}", [8, 6, 4, 3, 2, 1]),
    "svd_compress": ("SVD", "svd_compress:rank={}", [32, 24, 16, 8, 4, 2]),
    "gaussian": ("Gauss", "gaussian:stddev={}", [0.0, 0.01, 0.03, 0.05, 0.1, 0.2]),
    "uniform": ("Uniform", "uniform:epsilon={}", [0.0, 0.02, 0.05, 0.1, 0.2, 0.3]),
    "laplace": ("Laplace", "laplace:scale={}", [0.0, 0.01, 0.02, 0.05, 0.1, 0.15]),
}
# Study Table 1 (caption): 30 % FC compression (keep 70 % of the coefficients), 4-bit CD, 50 % SVD
# compression (keep int(0.5 * 32) = 16 singular values), Gauss and Laplace 0.03, Uniform 0.04; rows
# in the published order. Specs for 32x32 images; ``table1_channels`` sizes SVD for other images.
TABLE1 = {"FC": "fft_compress:fraction=0.7", "CD": "color_depth:bits=4", "SVD": "svd_compress:rank=16",
          "Gauss": "gaussian:stddev=0.03", "Uniform": "uniform:epsilon=0.04", "Laplace": "laplace:scale=0.03"}
TABLE1_SVD_COMPRESSION = 0.5
TABLE1_CW = dict(STUDY_CW)      # adaptive C&W L2: 100 iterations, 5 binary-search steps, c0 = 0.01
TABLE1_EXAMPLES = 2000          # the paper's number of CIFAR-10 test images (here: --channel_examples)
TRANSFER_ATTACKS = ("cw_l2", "pgd")
EMPTY = "Empty"                 # the published first row: no attack


def table1_channels(height=32, width=32):
    """``TABLE1`` for HxW images: SVD keeps int((1 - 0.5) * min(H, W)) singular values (study code's rule)."""
    rank = max(1, int((1.0 - TABLE1_SVD_COMPRESSION) * min(int(height), int(width))))
    return {**TABLE1, "SVD": f"svd_compress:rank={rank}"}


def _apply(spec, x, bpda=False):
    layer = make_channel(spec)
    layer.bpda = bpda
    return layer(x, training=False)


def _channel_fn(model_fn, spec):
    """x -> model_fn(clip(channel(x))) with BPDA through the channel (identity backward where it rounds)."""
    layer = make_channel(spec)
    layer.bpda = True

    def fn(x):
        return model_fn(tf.clip_by_value(layer(x, training=False), 0.0, 1.0))

    fn.channel_spec = spec
    return fn


def _gradient_mode(model, bpda=None):
    """Noise off, BPDA where the model has non-differentiable parts (``ServedModel.deterministic_mode``)."""
    return model.deterministic_mode(bpda)


def _predict(fn, x, batch_size):
    return np.concatenate([np.argmax(fn(tf.constant(x[i:i + batch_size])).numpy(), 1)
                           for i in range(0, len(x), batch_size)]) if len(x) else np.zeros([0], np.int64)


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
            pred = _predict(fn, out, batch_size)
            xs.append(100 * float(dist.mean()))
            ys.append(float((pred == y).mean()))
        curves.append(dict(name="accuracy_vs_distortion", model=model.name, series=label, x=xs, y=ys,
                           x_label="distortion ||c(x)-x|| / ||x|| (%)", y_label="test accuracy",
                           paper="Study Fig. 1, App. D.1"))
    return curves


def transfer_params(attack="cw_l2", params=None):
    """The attack parameters of the transfer matrix: Table 1's C&W, or PGD-20 L-inf 8/255 (``attack="pgd"``)."""
    if attack not in TRANSFER_ATTACKS:
        raise choice_error("channel transfer attack", attack, TRANSFER_ATTACKS)
    base = TABLE1_CW if attack == "cw_l2" else LINF.pgd()
    return {**base, **(params or {})}


def transfer_matrix(model, x, y, channels=None, attack="cw_l2", params=None, batch_size=128, bpda=None,
                    progress=None):
    """Study Table 1: accuracy of model + channel B (columns) on examples crafted against model + channel A.

    Rows: ``"Empty"`` (clean images) and one per channel A; columns: one per channel B, in the same
    order, so the diagonal is crafted and evaluated through the same channel. ``channels`` defaults to
    ``table1_channels`` of the image size; ``attack`` is ``"cw_l2"`` (the adaptive C&W L2 of Table 1,
    ``TABLE1_CW``) or ``"pgd"``; ``params`` override its parameters. ``progress(message)``, if given, is
    called before each row is crafted (the rows take minutes each on a CPU).
    """
    channels = dict(channels or table1_channels(*x.shape[1:3]))
    params = transfer_params(attack, params)
    craft_base = model.model_fn(_gradient_mode(model, bpda))
    base = model.model_fn("deterministic")
    labels = list(channels)

    def accuracies(images):
        return [float(np.mean(_predict(lambda v, s=channels[t]: base(tf.clip_by_value(_apply(s, v), 0, 1)),
                                       images, batch_size) == y)) for t in labels]

    values = [accuracies(x)]
    for row, source in enumerate(labels, 1):
        if progress is not None:
            progress(f"{model.name}: transfer matrix, crafting through {source} ({row}/{len(labels)})")
        fn = _channel_fn(craft_base, channels[source])
        x_adv = np.concatenate([run_attack(attack, fn, tf.constant(x[i:i + batch_size]),
                                           tf.constant(y[i:i + batch_size]), **params).numpy()
                                for i in range(0, len(x), batch_size)])
        values.append(accuracies(x_adv))
    if attack == "cw_l2":
        how = (f"adaptive C&W L2, {params['max_iterations']} iterations, {params['binary_search_steps']} "
               f"binary-search steps, c0 {params['initial_const']}")
    else:
        how = f"PGD-{params['steps']} L-inf eps {params['eps'] * 255:.3g}/255"
    return dict(name="transfer_matrix", model=model.name, rows=[EMPTY] + labels, cols=labels, values=values,
                row_label="attack crafted against model + channel (Empty: none)",
                col_label="evaluated on model + channel",
                paper=f"Study Table 1 (accuracy on transferred examples; {how}; {len(x)} images)")


def recovery_windows(model, x, y, sigmas=(0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12), draws=8, params=None, seed=0,
                     bpda=None):
    """Study Fig. 2: PGD examples crafted on the deterministic model (BPDA through its non-differentiable
    parts), then Gaussian noise of growing sigma; frequency of the original / adversarial / other class."""
    params = {**LINF.pgd(), **(params or {})}
    fn = model.model_fn("deterministic")
    x_adv = run_attack("pgd", model.model_fn(_gradient_mode(model, bpda)), tf.constant(x), tf.constant(y),
                       **params).numpy()
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
