"""Square Attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020), score-based, L-inf and L2.

Random search on the margin loss L = z_y - max_{k!=y} z_k (minimised; L <= 0 means fooled), one model
query per iteration and example, ``n_queries`` (AutoAttack: 5,000) per example including the first.

* L-inf (Algorithm 2, sec. 3.1): start from vertical stripes x + eps * s, s in {-1, 1} per column and
  channel; each step picks a square window of side round(sqrt(p * n_features / c)) (>= 1) at a random
  position per example and sets it to x +- eps, one sign per channel; kept if the loss decreases.
* L2 (Algorithm 3, sec. 3.2): start from a grid of windows filled with the meta-pattern (two halves of
  opposite sign, each 1/(d+1)^2 summed over the rings at Chebyshev distance >= d from its centre), one
  sign per window and channel, scaled to ||delta||_2 = eps; each step moves the perturbation's mass
  from a second window into the first (new pattern plus the first window's old content, rescaled so
  the total norm stays eps), then renormalises to the eps-sphere. Side >= 3 and odd; the two windows'
  positions are shared by the batch (per example for L-inf).

The fraction p of pixels changed starts at ``p_init`` (0.8) and halves at queries 10, 50, 200, 500,
1000, 2000, 4000, 6000 and 8000 of a 10,000-query run, the schedule rescaled to ``n_queries``
(sec. 4 / App. of the paper; ``i -> int(i / n_queries * 10000)``).

Early exit: an example leaves the batch at the query that fools it, so cost follows the robust ones.
On an ``EOTModel`` in gradient mode the margin is the mean over its draws of the per-draw margin
(``eval.attacks.eot.per_draw``). Randomness: ``seed`` (None: drawn from TensorFlow's global generator,
so ``tf.random.set_seed`` makes a run reproducible).
"""
import math

import numpy as np
import tensorflow as tf

from eval.attacks.eot import per_draw
from eval.attacks.traced import traced

SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def p_selection(p_init, query, n_queries):
    """p at ``query``: p_init halved at every mark of ``SCHEDULE`` passed (marks scaled by n_queries / 10000)."""
    it = int(query / n_queries * 10000)
    return p_init / 2 ** sum(it > mark for mark in SCHEDULE)


def margin_fn(model_fn):
    """The cached ``tf.function(x, y) -> margin [N]``: z_y - max_{k!=y} z_k (per-draw mean under gradient EOT)."""
    def build(model_ref):
        def run(x, y):
            def margin(logits):
                logits = tf.cast(logits, tf.float32)
                labels = tf.tile(y, [tf.shape(logits)[0] // tf.shape(y)[0]])
                z_y = tf.gather(logits, labels, batch_dims=1)
                other = tf.reduce_max(logits - 1e9 * tf.one_hot(labels, tf.shape(logits)[-1]), axis=-1)
                return z_y - other
            return per_draw(model_ref(), margin, x)
        return run
    return traced(model_fn, ("square_margin",), build)


def _rng(seed):
    if seed is None:
        seed = int(tf.random.uniform([], 0, 2 ** 31 - 1, dtype=tf.int32))
    return np.random.default_rng(int(seed))


def _side(p, n_features, channels, h, w, minimum):
    s = max(int(round(math.sqrt(p * n_features / channels))), minimum)
    return min(s, h, w)


def meta_pattern(s, rng):
    """The L2 window pattern eta(s) (sec. 3.2): top s//2 rows +rings, bottom rows -rings, unit L2 norm;
    transposed with probability 1/2."""
    def rings(h1, h2):
        if h1 == 0:
            return np.zeros((0, h2))
        r, c = np.meshgrid(np.arange(h1), np.arange(h2), indexing="ij")
        d = np.maximum(np.abs(r - h1 // 2), np.abs(c - h2 // 2))
        top = max(h1 // 2 + 1, h2 // 2 + 1)  # rings 0 .. top-1 around the centre
        weights = np.array([sum(1.0 / (k + 1) ** 2 for k in range(j, top)) for j in range(top)])
        out = weights[d]
        return out / np.sqrt((out ** 2).sum())
    eta = np.concatenate([rings(s // 2, s), -rings(s - s // 2, s)], axis=0)
    eta /= np.sqrt((eta ** 2).sum()) + 1e-12
    return eta.T if rng.random() > 0.5 else eta


def _l2(v):
    return np.sqrt((v.reshape(len(v), -1) ** 2).sum(1)).reshape([-1, 1, 1, 1])


def square(model_fn, x, y, params, norm):
    """x_adv of the Square Attack (``norm`` 'linf' or 'l2'); see the module docstring."""
    x = np.asarray(x, np.float32)
    y = np.asarray(y).astype(np.int32)
    eps, n_queries, p_init = float(params["eps"]), int(params["n_queries"]), float(params["p_init"])
    rng = _rng(params["seed"])
    query = margin_fn(model_fn)
    n, h, w, c = x.shape
    n_features = h * w * c
    if norm == "linf":
        x_best = np.clip(x + eps * rng.choice([-1.0, 1.0], size=(n, 1, w, c)), 0.0, 1.0).astype(np.float32)
    else:
        delta = np.zeros_like(x)
        s = max(h // 5, 1)
        start = (h - s * 5) // 2 if h >= 5 else 0
        for vh in range(start, h - s + 1, s):
            for vw in range(start, w - s + 1, s):
                delta[:, vh:vh + s, vw:vw + s, :] += (meta_pattern(s, rng)[None, :, :, None]
                                                      * rng.choice([-1.0, 1.0], size=(n, 1, 1, c)))
        x_best = np.clip(x + eps * delta / (_l2(delta) + 1e-12), 0.0, 1.0).astype(np.float32)
    margin = query(tf.constant(x_best), tf.constant(y)).numpy()
    active = np.flatnonzero(margin > 0)
    rows, cols = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    for i in range(1, n_queries):  # query i (the start was query 0)
        if len(active) == 0:
            break
        xa, xb = x[active], x_best[active]
        p = p_selection(p_init, i, n_queries)
        if norm == "linf":
            s = _side(p, n_features, c, h, w, 1)
            vh = rng.integers(0, h - s + 1, size=(len(active), 1, 1))
            vw = rng.integers(0, w - s + 1, size=(len(active), 1, 1))
            window = ((rows >= vh) & (rows < vh + s) & (cols >= vw) & (cols < vw + s))[..., None]
            signs = rng.choice([-1.0, 1.0], size=(len(active), 1, 1, c))
            x_new = np.where(window, np.clip(xa + eps * signs, 0.0, 1.0), xb)
        else:
            s = _side(p, n_features, c, h, w, 3)
            s = s + 1 if s % 2 == 0 and s < min(h, w) else s
            vh, vw, vh2, vw2 = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1), rng.integers(
                0, h - s + 1), rng.integers(0, w - s + 1)
            delta = xb - xa
            w1 = (slice(None), slice(vh, vh + s), slice(vw, vw + s), slice(None))
            w2 = (slice(None), slice(vh2, vh2 + s), slice(vw2, vw2 + s), slice(None))
            union = np.zeros_like(delta)
            union[w1], union[w2] = 1.0, 1.0
            norm_w1 = np.sqrt((delta[w1] ** 2).sum(axis=(1, 2), keepdims=True))
            norm_union = np.sqrt(((delta * union) ** 2).sum(axis=(1, 2), keepdims=True))
            norm_image = _l2(delta)
            new = (meta_pattern(s, rng)[None, :, :, None] * rng.choice([-1.0, 1.0], size=(len(active), 1, 1, c))
                   + delta[w1] / (norm_w1 + 1e-12))
            scale = np.sqrt(np.maximum(eps ** 2 - norm_image ** 2, 0.0) / c + norm_union ** 2)
            new = new / (np.sqrt((new ** 2).sum(axis=(1, 2), keepdims=True)) + 1e-12) * scale
            delta[w2] = 0.0
            delta[w1] = new
            x_new = np.clip(xa + eps * delta / (_l2(delta) + 1e-12), 0.0, 1.0)
        x_new = x_new.astype(np.float32)
        m_new = query(tf.constant(x_new), tf.constant(y[active])).numpy()
        better = m_new < margin[active]  # margin loss: accept a decrease (a fooling point is one)
        upd = active[better]
        x_best[upd], margin[upd] = x_new[better], m_new[better]
        active = active[margin[active] > 0]
    return tf.convert_to_tensor(x_best, tf.float32)


def make(norm):
    """The registry function ``fn(model_fn, x, y, params)`` of Square in ``norm``."""
    def attack(model_fn, x, y, params):
        return square(model_fn, x, y, params, norm)
    attack.__name__ = f"square_{norm}"
    attack.__doc__ = f"Square Attack ({norm}), Andriushchenko et al. 2020; see eval.attacks.square."
    return attack


def _register():
    from eval.attacks.registry import AttackSpec, register
    from zoo.threat import L2, LINF, format_pixels
    for norm, name, threat in (("linf", "square", LINF), ("l2", "square_l2", L2)):
        eps, e = threat.eps, format_pixels(threat.eps, norm)
        register(AttackSpec(name, make(norm), dict(eps=eps, n_queries=5000, p_init=0.8, seed=None), norm, "blackbox",
                            f"Andriushchenko et al. 2020 (Square Attack) Alg. {2 if norm == 'linf' else 3}, margin "
                            f"loss, eps={e}, p_init=0.8, 5,000 queries (AutoAttack sec. 5)"))


_register()
