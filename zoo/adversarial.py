"""Adversarial example generators in pixel space, shared by every trainer (and usable by eval).

All functions take ``model_fn(x) -> logits`` and images in [0,1], return a perturbed copy with no
gradient attached, inside the L-inf ball of radius ``eps`` around ``x`` and inside [0,1].
Loops over a fixed number of steps are Python loops, so inside ``tf.function``/XLA they unroll
(measured faster than ``tf.range`` loops under XLA on this machine; see ../shared/DESIGN.md).

* ``pgd_linf``: PGD with random start (Madry et al. 2018, eq. 2; PNI eq. 12 when ``model_fn`` keeps
  the noise on). ``eot`` > 1 averages the gradient over that many calls of a random model (EOT,
  Athalye et al. 2018).
* ``fgsm``: one step of size eps (Goodfellow et al. 2015).
* ``step_ll``: one step towards the least-likely class (Kurakin et al. 2017), used by NAT and EAT;
  ``eps`` may be a per-example tensor.
"""
import tensorflow as tf


def per_example_xent(labels, logits):
    """Softmax cross-entropy per example, in float32: the one loss formula of trainers and eval."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32),
                                                          logits=tf.cast(logits, tf.float32))


def loss_gradient(model_fn, x, labels, eot=1):
    """d/dx of the summed cross-entropy, averaged over ``eot`` calls (EOT for random models)."""
    total = None
    for _ in range(eot):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(per_example_xent(labels, model_fn(x)))
        grad = tape.gradient(loss, x)
        total = grad if total is None else total + grad
    return total / float(eot)


def project(x_adv, x, eps):
    """Projection onto the L-inf ball of radius eps around x, intersected with [0,1]."""
    return tf.clip_by_value(tf.clip_by_value(x_adv, x - eps, x + eps), 0.0, 1.0)


def pgd_linf(model_fn, x, labels, eps, step_size, steps, random_start=True, targeted=False, eot=1, seed=None):
    """PGD-k L-inf (Madry et al. 2018): x_{t+1} = Proj(x_t + a * sign(grad)), random start in the ball."""
    x = tf.convert_to_tensor(x, tf.float32)
    if random_start:
        noise = tf.random.uniform(tf.shape(x), -1.0, 1.0, seed=seed) * eps
        x_adv = project(x + noise, x, eps)
    else:
        x_adv = x
    direction = -1.0 if targeted else 1.0
    for _ in range(int(steps)):
        grad = loss_gradient(model_fn, x_adv, labels, eot)
        x_adv = project(x_adv + direction * step_size * tf.sign(grad), x, eps)
    return tf.stop_gradient(x_adv)


def fgsm(model_fn, x, labels, eps, eot=1):
    """FGSM: x + eps * sign(grad_x L(x, y)), clipped to [0,1]."""
    return pgd_linf(model_fn, x, labels, eps, eps, 1, random_start=False, eot=eot)


def least_likely(model_fn, x):
    """The class each example is least likely to be (Step-LL's target)."""
    return tf.argmin(model_fn(x), axis=-1, output_type=tf.int32)


def step_ll(model_fn, x, eps, eot=1):
    """Step-LL (Kurakin et al. 2017): x - eps * sign(grad_x L(x, y_LL)); eps scalar or [N,1,1,1]."""
    x = tf.convert_to_tensor(x, tf.float32)
    grad = loss_gradient(model_fn, x, least_likely(model_fn, x), eot)
    return tf.stop_gradient(tf.clip_by_value(x - eps * tf.sign(grad), 0.0, 1.0))
