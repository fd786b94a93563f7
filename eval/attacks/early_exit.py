"""PGD with early exit: an example leaves the batch at the first iterate that fools it (AutoAttack's bookkeeping).

``pgd_early_exit`` is Madry et al.'s PGD-k L-inf (random start uniform in the eps-ball, k steps of
``step_size * sign(grad)``, projection onto the ball and [0,1]) run as APGD runs (``eval.attacks.apgd``):
one traced loss-and-gradient step per iteration on the examples still classified correctly, so the
cost follows the still-robust examples, not the whole set. An example that is misclassified at an
iterate keeps that iterate (it is recorded as fooled); the others return the last iterate, as PGD does.

Against a deterministic model it is therefore at least as strong as PGD returning its last iterate:
every example PGD fools at the end is fooled at some iterate, and the first such iterate is kept (PGD's
last iterate can be correct again after a fooling one). Against a random model "fooled" is judged on one
draw (the last EOT draw, as ``eval.attacks.apgd`` and AutoAttack's "rand" version); the caller then
evaluates x_adv with the model as served, with fresh draws.
"""
import tensorflow as tf

from eval.attacks.apgd import _Batch, _setup, loss_and_gradient, project
from eval.attacks.traced import traced


def _logits_fn(model_fn):
    """The cached ``tf.function(x) -> logits`` of ``model_fn`` (the last draw under gradient EOT)."""
    def build(model_ref):
        def run(x):
            return tf.cast(model_ref()(x), tf.float32)
        return run
    return traced(model_fn, ("logits",), build)


def pgd_early_exit(model_fn, x, y, eps, step_size, steps, random_start=True, cost=None):
    """x_adv of PGD-``steps`` L-inf with early exit (see the module docstring); float32 tf.Tensor in [0,1].

    ``cost``: a list that receives the number of example-gradients computed (the work done), for benchmarks.
    """
    x, y, out, fooled, _, _ = _setup(x, y)
    step_fn = loss_and_gradient(model_fn, "ce")
    eps_t, step_t = tf.constant(float(eps), tf.float32), tf.constant(float(step_size), tf.float32)
    b = _Batch(idx=tf.range(tf.shape(x)[0]), x=x, y=y)
    if random_start:
        b.xk = project(x + tf.random.uniform(tf.shape(x), -1.0, 1.0) * eps_t, x, eps_t, "linf")
    else:
        b.xk = x
    work = 0
    for k in range(int(steps) + 1):  # iterate k is checked; steps gradient steps in all
        if b.size == 0:
            break
        if k < int(steps):
            _, grad, logits = step_fn(b.xk, b.y, b.y)
            work += b.size
        else:  # the last iterate: a prediction only
            logits = _logits_fn(model_fn)(b.xk)
        wrong = tf.not_equal(tf.argmax(logits, axis=-1, output_type=tf.int32), b.y).numpy()
        if wrong.any():
            ids = b.idx.numpy()[wrong]
            out[ids], fooled[ids] = b.xk.numpy()[wrong], True
        if k == int(steps):
            break
        b.xk = project(b.xk + step_t * tf.sign(grad), b.x, eps_t, "linf")
        b.keep(~wrong)
    if b.size:
        out[b.idx.numpy()] = b.xk.numpy()
    if cost is not None:
        cost.append(work)
    return tf.convert_to_tensor(out, tf.float32)



def pgd_exit(model_fn, x, y, params):
    """Registry entry: PGD-k L-inf with early exit (``pgd_early_exit``); EOT through ``loss_and_gradient``."""
    return pgd_early_exit(model_fn, x, y, params["eps"], params["step_size"], params["steps"],
                          params["random_start"])


def _register():
    from eval.attacks.registry import AttackSpec, register
    from zoo.threat import LINF
    register(AttackSpec("pgd_exit", pgd_exit, dict(eps=LINF.eps, step_size=LINF.step_size, steps=LINF.steps,
                                                   random_start=True), "linf", "whitebox",
                        "PGD (Madry et al. 2018) eps=8/255, step 2/255, 20 steps, random start, with AutoAttack's "
                        "early exit (Croce & Hein 2020): an example keeps the first iterate that fools it"))


_register()
