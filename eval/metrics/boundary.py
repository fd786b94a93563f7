"""Worst-case boundary distance W_f (ANP eq. 3, "Model Robustness Evaluation with Proposed Criteria").

For each image x_i, m random orthogonal unit directions (QR of a Gaussian matrix); along each
direction, and its opposite, the smallest step t with f(x_i + t v) != y_i is found by doubling to
bracket the change and then binary search, all directions of an image in one batch. d_i is the
minimum over directions, W_f the mean over images. The reference label is the model's own
prediction at x_i (``y=None``), so every image has a distance; ANP states the stopping rule as
f(x_i) != y_i, which is the same for correctly classified images. ANP reports RMS distances: ``rms`` is
t / sqrt(dimension), here on the 0-255 pixel scale (ANP Table 11's magnitude); ``l2`` is t on [0,1].
Inputs are not clipped to [0,1]: this is a geometric property of f. The paper uses 1,000
directions; the default here is 32 (``m``), a CPU budget.
"""
import numpy as np
import tensorflow as tf


def orthogonal_directions(dim, m, seed=0):
    """m orthonormal directions in R^dim (columns of Q from the QR of a Gaussian matrix), as [m, dim]."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, min(m, dim))))
    return q.T.astype(np.float32)


def boundary_distance(model_fn, x, y=None, directions=None, m=32, seed=0, t_max=64.0, bisections=20):
    """{'d': per-image min distance (L2, [0,1] scale), 'W_f_l2', 'W_f_rms255', 'unbroken'} ."""
    x = np.asarray(x, dtype=np.float32)
    if y is None:
        y = np.argmax(model_fn(tf.constant(x)).numpy(), axis=1)
    n, dim = len(x), int(np.prod(x.shape[1:]))
    v = orthogonal_directions(dim, m, seed) if directions is None else np.asarray(directions, np.float32)
    v = np.concatenate([v, -v])  # both senses of every direction
    k = len(v)
    v_img = tf.constant(v.reshape(k, *x.shape[1:]))
    d = np.full(n, np.inf, dtype=np.float64)
    for i in range(n):
        xi = tf.constant(x[i][None])

        def flipped(t):
            logits = model_fn(xi + tf.reshape(tf.constant(t, tf.float32), [-1, 1, 1, 1]) * v_img)
            return np.argmax(logits.numpy(), axis=1) != y[i]

        lo, hi = np.zeros(k), np.full(k, 1e-3)
        done = flipped(hi)
        while not done.all() and hi.max() < t_max:  # doubling: bracket the change of every direction
            hi = np.where(done, hi, hi * 2)
            lo = np.where(done, lo, hi / 2)
            done = flipped(hi)
        hi = np.where(done, hi, np.inf)
        for _ in range(bisections):
            mid = np.where(np.isfinite(hi), (lo + hi) / 2, lo)
            f = flipped(np.where(np.isfinite(mid), mid, 0))
            hi = np.where(np.isfinite(hi) & f, mid, hi)
            lo = np.where(np.isfinite(hi) & ~f, mid, lo)
        d[i] = hi.min()
    finite = np.isfinite(d)
    return {"d": d, "W_f_l2": float(d[finite].mean()) if finite.any() else float("inf"),
            "W_f_rms255": float(255.0 * d[finite].mean() / np.sqrt(dim)) if finite.any() else float("inf"),
            "unbroken": int((~finite).sum()), "directions": int(k)}
