"""APGD (Croce & Hein, ICML 2020, "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks"), written from the paper: Algorithm 1 (sec. 3), the DLR loss (sec. 4,
eq. 6) and its targeted version (sec. 5), in L-inf and L2.

* ``apgd_ce``: APGD on the cross-entropy; ``apgd_dlr``: on the DLR loss
  DLR(x, y) = -(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3) (z sorted decreasingly: z_pi1 >= z_pi2 >= ...),
  invariant to shifting and positively scaling the logits;
* ``apgd_t``: APGD on the targeted DLR loss -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2), once per target t
  among the ``n_target_classes`` (9) most likely classes other than the label, each on the points the
  earlier targets left robust.

Algorithm 1: step size eta = 2 eps, x^1 = P(x^0 + eta * s(grad)) and for k >= 1
z = P(x^k + eta s(grad f(x^k))), x^(k+1) = P(x^k + alpha (z - x^k) + (1 - alpha)(x^k - x^(k-1))), alpha 0.75
(s = sign for L-inf, g / ||g||_2 for L2; P projects onto the eps-ball and [0,1]). At the checkpoints
w_j = ceil(p_j N_iter), p_0 = 0, p_1 = 0.22, p_(j+1) = p_j + max(p_j - p_(j-1) - 0.03, 0.06), the step is
halved and the iterate restarts from the best point x_max when (1) the loss increased in fewer than
rho = 0.75 of the steps since w_(j-1), or (2) neither the step size nor the best loss changed since w_(j-1).
Checkpoint w_j is evaluated once x^(w_j) is computed (its count covers the w_j - w_(j-1) steps
x^i -> x^(i+1), i = w_(j-1) .. w_j - 1, as the paper writes it). Start: x^0 uniform in the eps-ball
(L-inf: x + eps t / ||t||_inf, t ~ U[-1,1]; L2: x + eps n / ||n||_2, n ~ N(0, I)), then clipped to [0,1].
``n_restarts`` runs each start on the points still robust.

Early exit: an example is recorded as fooled at the first iterate its prediction is wrong and leaves
the batch (the batch is compacted), so the cost follows the still-robust examples. The returned x_adv is
that iterate for fooled examples and the highest-loss point over all runs for the others.

EOT: with an ``EOTModel`` in gradient mode (``eval.attacks.eot``) each step evaluates its n draws at
once; the per-example loss is the mean of the per-draw losses (so its gradient is the mean of the
per-draw gradients, Athalye et al.) and "fooled" is judged on one draw (the last), as the AutoAttack
"rand" version judges it; the caller then evaluates x_adv with the model as served. In logits mode the
loss is that of the averaged logits.
"""
import math

import numpy as np
import tensorflow as tf

from eval.attacks.eot import EOTModel
from eval.attacks.traced import traced
from zoo.adversarial import per_example_xent

P1, P_DECAY, P_MIN = 0.22, 0.03, 0.06  # checkpoint schedule (sec. 3.2)


def checkpoints(n_iter):
    """The checkpoints w_j = ceil(p_j N_iter) <= N_iter of sec. 3.2 (w_0 = 0 excluded), increasing."""
    p_prev, p, out = 0.0, P1, []
    while p <= 1.0:
        w = int(math.ceil(round(p * n_iter, 9)))
        if 0 < w <= n_iter and (not out or w > out[-1]):
            out.append(w)
        p_prev, p = p, p + max(p - p_prev - P_DECAY, P_MIN)
    return out


def _sorted_logits(logits):
    return tf.sort(logits, axis=-1, direction="DESCENDING")


def dlr_loss(logits, labels):
    """DLR (sec. 4, eq. 6): -(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3 + 1e-12), per example."""
    logits = tf.cast(logits, tf.float32)
    z_sorted = _sorted_logits(logits)
    z_y = tf.gather(logits, labels, batch_dims=1)
    other = tf.reduce_max(logits - 1e9 * tf.one_hot(labels, tf.shape(logits)[-1]), axis=-1)
    third = z_sorted[:, min(2, logits.shape[-1] - 1)]
    return -(z_y - other) / (z_sorted[:, 0] - third + 1e-12)


def dlr_targeted_loss(logits, labels, targets):
    """Targeted DLR (sec. 5): -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12), per example."""
    logits = tf.cast(logits, tf.float32)
    z_sorted = _sorted_logits(logits)
    last = logits.shape[-1] - 1
    z_y = tf.gather(logits, labels, batch_dims=1)
    z_t = tf.gather(logits, targets, batch_dims=1)
    return -(z_y - z_t) / (z_sorted[:, 0] - 0.5 * (z_sorted[:, min(2, last)] + z_sorted[:, min(3, last)]) + 1e-12)


def _ce(logits, labels, targets):
    return per_example_xent(labels, logits)


def _dlr(logits, labels, targets):
    return dlr_loss(logits, labels)


def _fab_margin(logits, labels, targets):  # FAB-T's g = z_t - z_y (eval.attacks.fab): its boundary is g = 0
    return tf.gather(logits, targets, batch_dims=1) - tf.gather(logits, labels, batch_dims=1)


LOSSES = {"ce": _ce, "dlr": _dlr, "dlr_targeted": dlr_targeted_loss, "fab_margin": _fab_margin}


def loss_and_gradient(model_fn, loss):
    """The cached ``tf.function(x, y, t) -> (loss [N], grad [N,...], logits [N,C])`` of ``model_fn``.

    Under gradient EOT the loss is the per-example mean over the n stacked draws (its gradient the mean
    of the per-draw gradients) and the logits are the last draw's (what "fooled" is judged on).
    """
    draws = model_fn.n if isinstance(model_fn, EOTModel) and model_fn.averages_gradients else 1
    loss_fn = LOSSES[loss]

    def build(model_ref):
        def run(x, y, t):
            fn = model_ref()
            fn = fn.stacked if draws > 1 else fn
            with tf.GradientTape() as tape:
                tape.watch(x)
                logits = tf.cast(fn(x), tf.float32)
                values = loss_fn(logits, tf.tile(y, [draws]), tf.tile(t, [draws]))
                per_example = tf.reduce_mean(tf.reshape(values, [draws, -1]), axis=0)
                total = tf.reduce_sum(per_example)
            grad = tape.gradient(total, x)
            grad = tf.zeros_like(x) if grad is None else grad
            return per_example, grad, logits[-tf.shape(x)[0]:]
        return run

    return traced(model_fn, ("apgd", loss), build)


def _norm(v, norm):
    flat = tf.reshape(v, [tf.shape(v)[0], -1])
    n = tf.reduce_max(tf.abs(flat), axis=1) if norm == "linf" else tf.norm(flat, axis=1)
    return tf.reshape(n, [-1] + [1] * (len(v.shape) - 1))


def project(x_new, x, eps, norm):
    """Onto the eps-ball around x (L-inf or L2) and then [0,1] (clipping keeps a ball point in the ball)."""
    if norm == "linf":
        x_new = tf.clip_by_value(x_new, x - eps, x + eps)
    else:
        d = x_new - x
        x_new = x + d * tf.minimum(1.0, eps / (_norm(d, "l2") + 1e-12))
    return tf.clip_by_value(x_new, 0.0, 1.0)


def _direction(grad, norm):
    return tf.sign(grad) if norm == "linf" else grad / (_norm(grad, "l2") + 1e-12)


def random_start(x, eps, norm):
    """x^0 of sec. 3: a point on the eps-sphere around x (L-inf: scaled uniform, L2: scaled Gaussian), in [0,1]."""
    t = tf.random.uniform(tf.shape(x), -1.0, 1.0) if norm == "linf" else tf.random.normal(tf.shape(x))
    return tf.clip_by_value(x + eps * t / (_norm(t, norm) + 1e-12), 0.0, 1.0)


class _Batch:
    """The still-robust examples of one run: named tensors compacted together by ``keep``."""

    def __init__(self, **tensors):
        self.__dict__.update(tensors)

    def keep(self, mask):
        for name, value in list(self.__dict__.items()):
            self.__dict__[name] = tf.boolean_mask(value, mask)

    @property
    def size(self):
        return int(self.idx.shape[0])


def apgd_run(model_fn, x, y, t, params, loss, norm, out, fooled, best_loss, best_x):
    """One run of Algorithm 1 on the examples with ``fooled == False``; updates the NumPy arrays in place.

    ``out[i]`` receives the first iterate that fools example i (``fooled[i]`` set); ``best_x`` / ``best_loss``
    the highest-loss point over runs. Returns the number of model evaluations x examples (the cost).
    """
    step_fn = loss_and_gradient(model_fn, loss)
    eps, n_iter = float(params["eps"]), int(params["steps"])
    rho, alpha = float(params["rho"]), float(params["alpha"])
    todo = np.flatnonzero(~fooled)
    if len(todo) == 0 or n_iter < 1:
        return 0
    idx = tf.constant(todo, tf.int32)
    x0, yb, tb = tf.gather(x, idx), tf.gather(y, idx), tf.gather(t, idx)
    eps_t = tf.constant(eps, tf.float32)
    cost = 0

    def evaluate(b, xk):
        nonlocal cost
        cost += b.size
        value, grad, logits = step_fn(xk, b.y, b.t)
        wrong = tf.not_equal(tf.argmax(logits, axis=-1, output_type=tf.int32), b.y)
        return value, grad, wrong

    def exit_fooled(b, xk, wrong, value):
        """Record the fooled examples' iterate and drop them (early exit); keep the best-loss points of the rest."""
        wrong_np = wrong.numpy()
        ids = b.idx.numpy()
        if wrong_np.any():
            out[ids[wrong_np]] = xk.numpy()[wrong_np]
            fooled[ids[wrong_np]] = True
        return ~wrong_np

    xk = random_start(x0, eps_t, norm)
    b = _Batch(idx=idx, x=x0, y=yb, t=tb)
    value, grad, wrong = evaluate(b, xk)
    b.xk, b.grad, b.value = xk, grad, value
    b.x_max, b.f_max, b.grad_max = xk, value, grad
    b.x_prev = xk
    b.eta = tf.fill([b.size], 2.0 * eps)  # eta^(0) = 2 eps
    b.count = tf.zeros([b.size])           # loss increases since the last checkpoint
    b.eta_check, b.fmax_check = b.eta, value  # eta and f_max at the last checkpoint (w_0 = 0)
    b.keep(exit_fooled(b, xk, wrong, value))
    marks = checkpoints(n_iter)
    prev_mark = 0
    shape1 = [-1] + [1] * (len(x.shape) - 1)
    for k in range(n_iter):  # computes x^(k+1)
        if b.size == 0:
            break
        eta = tf.reshape(b.eta, shape1)
        z = project(b.xk + eta * _direction(b.grad, norm), b.x, eps_t, norm)
        if k == 0:
            x_next = z
        else:
            x_next = project(b.xk + alpha * (z - b.xk) + (1.0 - alpha) * (b.xk - b.x_prev), b.x, eps_t, norm)
        value, grad, wrong = evaluate(b, x_next)
        b.count = b.count + tf.cast(value > b.value, tf.float32)
        better = value > b.f_max
        mask = tf.reshape(better, shape1)
        b.x_max = tf.where(mask, x_next, b.x_max)
        b.grad_max = tf.where(mask, grad, b.grad_max)
        b.f_max = tf.where(better, value, b.f_max)
        b.x_prev, b.xk, b.grad, b.value = b.xk, x_next, grad, value
        if k + 1 in marks:  # checkpoint w_j = k + 1 (x^(w_j) is computed)
            steps = float(k + 1 - prev_mark)
            cond1 = b.count < rho * steps
            cond2 = tf.logical_and(tf.equal(b.eta_check, b.eta), tf.equal(b.fmax_check, b.f_max))
            halve = tf.logical_or(cond1, cond2)
            b.eta_check, b.fmax_check = b.eta, b.f_max
            b.eta = tf.where(halve, b.eta / 2.0, b.eta)
            mask = tf.reshape(halve, shape1)
            b.xk = tf.where(mask, b.x_max, b.xk)       # restart from the best point
            b.grad = tf.where(mask, b.grad_max, b.grad)
            b.value = tf.where(halve, b.f_max, b.value)
            b.count = tf.zeros_like(b.count)
            prev_mark = k + 1
        b.keep(exit_fooled(b, x_next, wrong, value))
    if b.size:
        ids = b.idx.numpy()
        f_max = b.f_max.numpy()
        improved = f_max > best_loss[ids]
        best_loss[ids[improved]] = f_max[improved]
        best_x[ids[improved]] = b.x_max.numpy()[improved]
    return cost


def _setup(x, y):
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.cast(tf.convert_to_tensor(y), tf.int32)
    x_np = x.numpy()
    return x, y, x_np.copy(), np.zeros(len(x_np), bool), np.full(len(x_np), -np.inf, np.float32), x_np.copy()


def _finish(out, fooled, best_loss, best_x):
    keep = ~fooled & np.isfinite(best_loss)
    out[keep] = best_x[keep]
    return tf.convert_to_tensor(out, tf.float32)


def _attack(model_fn, x, y, params, loss, norm):
    """APGD with ``loss`` ('ce' or 'dlr'): ``n_restarts`` runs, each on the points still robust."""
    x, y, out, fooled, best_loss, best_x = _setup(x, y)
    for _ in range(int(params["n_restarts"])):
        apgd_run(model_fn, x, y, y, params, loss, norm, out, fooled, best_loss, best_x)
    return _finish(out, fooled, best_loss, best_x)


def target_classes(model_fn, x, y, count):
    """[count, N] targets: for j = 1..count the (j+1)-th most likely class of the clean logits (sec. 5:
    APGD-T over the top-9 classes other than the label, for a correctly classified point)."""
    logits = tf.cast(model_fn(x), tf.float32)
    order = tf.argsort(logits, axis=-1, direction="DESCENDING", stable=True).numpy()
    y_np = y.numpy()
    out = []
    for j in range(count):
        # the (j+1)-th class of the ranking without y (for a misclassified point y is not first)
        ranked = np.array([row[row != label][j] for row, label in zip(order, y_np)], np.int32)
        out.append(ranked)
    return out


def apgd_targeted(model_fn, x, y, params, norm):
    """APGD-T (sec. 5): targeted DLR towards each of the ``n_target_classes`` most likely other classes,
    ``n_restarts`` runs per target, each on the points still robust."""
    x, y, out, fooled, best_loss, best_x = _setup(x, y)
    classes = int(model_fn(x[:1]).shape[-1])
    count = min(int(params["n_target_classes"]), classes - 1)
    for target in target_classes(model_fn, x, y, count):
        for _ in range(int(params["n_restarts"])):
            apgd_run(model_fn, x, y, tf.constant(target), params, "dlr_targeted", norm, out, fooled, best_loss,
                     best_x)
    return _finish(out, fooled, best_loss, best_x)


def make(loss, norm):
    """The registry function ``fn(model_fn, x, y, params)`` of APGD with ``loss`` in ``norm``."""
    if loss == "dlr_targeted":
        def attack(model_fn, x, y, params):
            return apgd_targeted(model_fn, x, y, params, norm)
    else:
        def attack(model_fn, x, y, params):
            return _attack(model_fn, x, y, params, loss, norm)
    attack.__name__ = f"apgd_{loss}_{norm}"
    attack.__doc__ = f"APGD ({loss}, {norm}), Croce & Hein 2020 Algorithm 1; see eval.attacks.apgd."
    return attack


def _register():
    from eval.attacks.registry import AttackSpec, register
    from zoo.threat import L2, LINF, format_pixels
    threat = {"linf": LINF, "l2": L2}
    base = dict(steps=100, n_restarts=1, rho=0.75, alpha=0.75)
    paper = ("Croce & Hein 2020 (AutoAttack) sec. 3, Alg. 1: {} loss, {}, eps={}, 100 iterations, eta0 = 2 eps, "
             "checkpoints p_j, rho=0.75, momentum 0.75, 1 restart{}")
    for norm, suffix in (("linf", ""), ("l2", "_l2")):
        eps = {norm: threat[norm].eps}
        e = format_pixels(eps[norm], norm)
        register(AttackSpec(f"apgd_ce{suffix}", make("ce", norm), dict(eps=eps[norm], **base), norm, "whitebox",
                            paper.format("cross-entropy", norm, e, "")))
        register(AttackSpec(f"apgd_dlr{suffix}", make("dlr", norm), dict(eps=eps[norm], **base), norm, "whitebox",
                            paper.format("DLR (sec. 4, eq. 6)", norm, e, "")))
        register(AttackSpec(f"apgd_t{suffix}", make("dlr_targeted", norm),
                            dict(eps=eps[norm], n_target_classes=9, **base), norm, "whitebox",
                            paper.format("targeted DLR (sec. 5)", norm, e, " per target, top-9 target classes")))


_register()
