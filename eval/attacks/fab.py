"""FAB-T, the targeted Fast Adaptive Boundary attack (Croce & Hein, ICML 2020, "Minimally distorted adversarial
examples with a fast adaptive boundary attack"; AutoAttack's third attack), written from the paper, L-inf and L2.

FAB looks for the smallest perturbation that changes the prediction. Targeted at class t, each iteration
linearises the boundary between the label y and t at the current point x^k, the hyperplane
{z : g(x^k) + w.(z - x^k) = 0} with g = z_t - z_y and w = grad g, and projects onto it, within the box
[0,1], both x^k (step d_k) and the original x (step d_0) in the attack's norm. The next point is the biased
combination (sec. 3.1, eq. 9)

    x^(k+1) = clip((1 - a)(x^k + eta d_k) + a (x + eta d_0)),  a = min(||d_k|| / (||d_k|| + ||d_0||), alpha_max)

(eta = 1.05 overshoots the linear boundary a little, alpha_max = 0.1). When x^(k+1) is misclassified it is
kept if closer to x than the best so far, and FAB steps back towards x: x^(k+1) <- (1 - beta) x + beta x^(k+1)
(beta = 0.9; the "backward step"). The projections are exact for the linear constraint plus the box:
L2: d = clip(lambda w, -p, 1 - p); L-inf: d_i = s_i min(t, u_i) with u_i the room the box leaves along the
sign s_i that helps; the scalar lambda or t is found by bisection (the constraint is monotone in it).

AutoAttack's FAB-T: targets the 9 most likely classes other than the label (as APGD-T), 100 iterations, one
start from x per target, each target on the points the earlier ones left robust. A budget turns the minimal
perturbation into an answer: an example is fooled when FAB found a misclassified point within ``eps``
(the returned image), else x comes back. Not implemented: FAB's random restarts (AutoAttack's standard run
uses one start) and the L1 version.
"""
import numpy as np
import tensorflow as tf

from eval.attacks.apgd import loss_and_gradient, target_classes
from eval.attacks.early_exit import _logits_fn

BISECTION_STEPS = 40


def _dot(a, b):
    return np.einsum("nd,nd->n", a, b)


def project_linf(p, w, r):
    """argmin ||d||_inf s.t. w.d = r, p + d in [0,1] (per row of [N, D] arrays; r [N]).

    Where the box forbids reaching the hyperplane the largest feasible move towards it is returned."""
    s = np.sign(w) * np.sign(r)[:, None]
    room = np.where(s > 0, 1.0 - p, p)                  # how far each coordinate may move the helpful way
    gain = np.abs(w)
    need = np.abs(r)
    lo, hi = np.zeros(len(p)), room.max(axis=1)
    for _ in range(BISECTION_STEPS):                     # sum_i |w_i| min(t, room_i) = |r|, increasing in t
        t = (lo + hi) / 2
        reached = _dot(gain, np.minimum(t[:, None], room)) >= need
        hi, lo = np.where(reached, t, hi), np.where(reached, lo, t)
    return s * np.minimum(hi[:, None], room)


def project_l2(p, w, r):
    """argmin ||d||_2 s.t. w.d = r, p + d in [0,1]: d = clip(lambda w, -p, 1 - p) (KKT), lambda by bisection."""
    sign = np.sign(r)[:, None]
    v = w * sign                                         # lambda >= 0 along v reaches need = |r|
    need = np.abs(r)
    low, high = -p, 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        caps = np.where(v != 0, np.maximum(low / v, high / v), 0.0)  # lambda beyond which coordinate i is clipped
    lo, hi = np.zeros(len(p)), caps.max(axis=1)
    for _ in range(BISECTION_STEPS):
        lam = (lo + hi) / 2
        reached = _dot(v, np.clip(lam[:, None] * v, low, high)) >= need
        hi, lo = np.where(reached, lam, hi), np.where(reached, lo, lam)
    return np.clip(hi[:, None] * v, low, high)


PROJECT = {"linf": project_linf, "l2": project_l2}


def _norm(d, norm):
    return np.abs(d).max(axis=1) if norm == "linf" else np.linalg.norm(d, axis=1)


def fab_targeted_run(model_fn, x, y, target, norm, steps=100, alpha_max=0.1, eta=1.05, beta=0.9):
    """One FAB run towards ``target`` from x: (best misclassified point [N, ...], its distance [N], inf where none)."""
    shape = x.shape
    x0 = x.reshape(len(x), -1).astype(np.float64)
    xk = x0.copy()
    best, best_norm = x0.copy(), np.full(len(x0), np.inf)
    step = loss_and_gradient(model_fn, "fab_margin")
    predict = _logits_fn(model_fn)
    y_t, t_t = tf.constant(y, tf.int32), tf.constant(target, tf.int32)
    project = PROJECT[norm]
    for _ in range(int(steps)):
        g, w, _ = step(tf.constant(xk.reshape(shape), tf.float32), y_t, t_t)
        g, w = g.numpy().astype(np.float64), w.numpy().reshape(len(x0), -1).astype(np.float64)
        d_k = project(xk, w, -g)                                   # onto the linearised boundary from x^k
        d_0 = project(x0, w, -(g + _dot(w, x0 - xk)))              # the same hyperplane, from x
        n_k, n_0 = _norm(d_k, norm), _norm(d_0, norm)
        a = np.minimum(n_k / np.maximum(n_k + n_0, 1e-12), alpha_max)[:, None]
        x_new = np.clip((1 - a) * (xk + eta * d_k) + a * (x0 + eta * d_0), 0.0, 1.0)
        pred = np.argmax(predict(tf.constant(x_new.reshape(shape), tf.float32)).numpy(), axis=-1)
        fooled = pred != y
        dist = _norm(x_new - x0, norm)
        better = fooled & (dist < best_norm)
        best[better], best_norm[better] = x_new[better], dist[better]
        xk = np.where(fooled[:, None], (1 - beta) * x0 + beta * x_new, x_new)
    return best.reshape(shape).astype(np.float32), best_norm


def fab_t(model_fn, x, y, params, norm):
    """FAB-T over the ``n_target_classes`` most likely other classes; x_adv within ``eps`` where one was found."""
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.int32)
    eps = float(params["eps"])
    out = x.copy()
    robust = np.ones(len(x), bool)
    classes = int(model_fn(tf.constant(x[:1])).shape[-1])
    count = min(int(params["n_target_classes"]), classes - 1)
    targets = target_classes(model_fn, tf.constant(x), tf.constant(y), count)
    for target in targets:
        todo = np.flatnonzero(robust)
        if len(todo) == 0:
            break
        best, dist = fab_targeted_run(model_fn, x[todo], y[todo], target[todo], norm, params["steps"],
                                      params["alpha_max"], params["eta"], params["beta"])
        inside = dist <= eps * (1 + 1e-6)
        delta = best[inside] - x[todo[inside]]  # float32 rounding: keep the answer within the budget exactly
        if norm == "linf":
            delta = np.clip(delta, -eps, eps)
        else:
            size = np.sqrt(np.sum(delta ** 2, axis=tuple(range(1, x.ndim)), keepdims=True))
            delta = delta * np.minimum(1.0, eps / np.maximum(size, 1e-12))
        out[todo[inside]] = np.clip(x[todo[inside]] + delta, 0.0, 1.0)
        robust[todo[inside]] = False
    return tf.convert_to_tensor(out, tf.float32)


def _register():
    from eval.attacks.registry import AttackSpec, register
    from zoo.threat import L2, LINF, format_pixels
    for norm, name, threat in (("linf", "fab_t", LINF), ("l2", "fab_t_l2", L2)):
        def attack(model_fn, x, y, params, norm=norm):
            return fab_t(model_fn, x, y, params, norm)
        attack.__name__ = name
        register(AttackSpec(name, attack, dict(eps=threat.eps, steps=100, n_target_classes=9, alpha_max=0.1, eta=1.05,
                                               beta=0.9), norm, "whitebox",
                            f"Croce & Hein 2020 (FAB, ICML) targeted, as AutoAttack's FAB-T: eps="
                            f"{format_pixels(threat.eps, norm)}, 100 iterations, top-9 targets, alpha_max 0.1, "
                            f"eta 1.05, beta 0.9, one start from x"))


_register()
