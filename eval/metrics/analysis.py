"""Perturbation analysis of the perturbation study (sec. 2.4, 3.8, App. D.6).

f_c(x) is the loss of class c at x (cross-entropy, a scalar per example). Then
* M1(x) = ||grad_x f_c(x)||_2 (first-order sensitivity);
* M2(x) = lambda_max(grad^2_x f_c(x)), the largest eigenvalue of the input Hessian, by power
  iteration on Hessian-vector products (double back-propagation; the Hessian is never formed),
  batched: examples are independent, so each has its own iterate.
Both are reported as histograms for natural and adversarial examples (study Fig. 6-7), with c the
predicted class. ``gradient_norms_under_noise`` reproduces study Fig. 12-14: the L2 norm of the loss
gradient for the original, the adversarial and a random other class as Gaussian noise is added.
"""
import numpy as np
import tensorflow as tf

from zoo.adversarial import per_example_xent


def _per_example_loss(model_fn, x, c):
    return per_example_xent(c, model_fn(x))


def grad_norm(model_fn, x, c):
    """M1 per example."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(_per_example_loss(model_fn, x, tf.constant(c)))
    g = tape.gradient(loss, x)
    return tf.norm(tf.reshape(g, [len(c), -1]), axis=1).numpy()


def hvp(scalar_fn, x, v):
    """Hessian-vector product of sum(scalar_fn(x)) at x with v (per example, by double backprop)."""
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            total = tf.reduce_sum(scalar_fn(x))
        g = inner.gradient(total, x)
        gv = tf.reduce_sum(g * v)
    return outer.gradient(gv, x)


def lambda_max(scalar_fn, x, iterations=20, seed=0):
    """M2 per example: the largest-magnitude eigenvalue of each example's input Hessian (power iteration)."""
    x = tf.constant(x, tf.float32)
    n = x.shape[0]
    v = tf.random.stateless_normal(x.shape, seed=[seed, 0])
    axes = list(range(1, len(x.shape)))
    eig = tf.zeros([n])
    for _ in range(iterations):
        v = v / (tf.sqrt(tf.reduce_sum(v * v, axis=axes, keepdims=True)) + 1e-12)
        hv = hvp(scalar_fn, x, v)
        eig = tf.reduce_sum(v * hv, axis=axes)  # Rayleigh quotient with a unit v
        v = hv
    return eig.numpy()


def m1_m2(model_fn, x, c, iterations=20, seed=0):
    c_t = tf.constant(c)
    return grad_norm(model_fn, x, c), lambda_max(lambda z: _per_example_loss(model_fn, z, c_t), x, iterations, seed)


def random_other_class(y, adv, num_classes, rng):
    """Per example a class drawn uniformly from those that are neither y nor adv (with 2 classes and
    adv == y: the other one)."""
    out = np.empty(len(y), dtype=np.int32)
    for i, (label, a) in enumerate(zip(y, adv)):
        choices = ([c for c in range(num_classes) if c not in (label, a)]
                   or [c for c in range(num_classes) if c != label])
        out[i] = rng.choice(choices)
    return out


def gradient_norms_under_noise(model_fn, x, y, x_adv, sigmas, draws=4, seed=0):
    """Curves of mean ||grad f_c|| for c = original, adversarial, random other class vs noise sigma."""
    rng = np.random.default_rng(seed)
    logits = model_fn(tf.constant(x_adv)).numpy()
    adv = np.argmax(logits, axis=1)
    other = random_other_class(y, adv, logits.shape[-1], rng)
    curves = {}
    for start_name, start in (("natural", x), ("adversarial", x_adv)):
        for label, c in (("original class", y), ("adversarial class", adv), ("random class", other)):
            values = []
            for sigma in sigmas:
                norms = [grad_norm(model_fn, np.clip(start + rng.normal(0, sigma, start.shape), 0, 1)
                                   .astype(np.float32), c.astype(np.int32)).mean() for _ in range(draws)]
                values.append(float(np.mean(norms)))
            curves[(start_name, label)] = values
    return curves
