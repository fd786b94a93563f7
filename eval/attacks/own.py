"""Attacks CleverHans lacks, built on the project's own ``zoo.adversarial`` (the trainers' generators).

* ``step_ll``: Step-LL (Kurakin et al. 2017), one step away from the least-likely class.
* ``pgd_fast``: ``zoo.adversarial.pgd_linf`` compiled in a cached ``tf.function`` (optionally XLA);
  the benchmark's PGD. EOT is not a parameter: pass ``ServedModel.model_fn(eot=n)``.
* ``partial_adaptive``: the perturbation study's partially adaptive attacker (sec. 3.4, App. D.5).
* ``transfer``: x_adv crafted on a source model by another registered attack.
* ``majority_vote``: not an attack, the study's defense option (App. D.4).
"""
import weakref

import tensorflow as tf

from eval.attacks.registry import AttackSpec, get, register, run_attack
from zoo import adversarial
from zoo.errors import ZooError
from zoo.layers.noise import LaplaceNoise

EPS = 8.0 / 255.0
STEP = 2.0 / 255.0


def step_ll(model_fn, x, y, params):
    """Step-LL (Kurakin et al. 2017): x - eps * sign(grad_x L(x, y_LL)); ignores ``y`` by design."""
    return adversarial.step_ll(model_fn, x, params["eps"])


# model_fn -> {(steps, random_start, jit_compile): tf.function}. Weak keys: a model_fn that is
# dropped frees its traces. Keep one model_fn object across batches to reuse the trace
# (ServedModel.model_fn() returns a new closure per call).
_PGD_CACHE = weakref.WeakKeyDictionary()


def compiled_pgd(model_fn, steps, random_start=True, jit_compile=False):
    """The cached ``tf.function(x, labels, eps, step_size) -> x_adv`` running ``zoo.adversarial.pgd_linf``.

    eps and the step are tensor arguments (an eps sweep does not retrace); the step count is
    unrolled (DESIGN.md: unrolled loops are faster under XLA) so it is part of the cache key, as are
    random start and XLA. ``reduce_retracing`` lets a smaller last batch share the trace.
    """
    key = (int(steps), bool(random_start), bool(jit_compile))
    try:
        per_model = _PGD_CACHE.setdefault(model_fn, {})
    except TypeError:  # not weak-referenceable: compile without caching
        per_model = {}
    if key not in per_model:
        model_ref = _weak(model_fn)

        def run(x, labels, eps, step_size):
            return adversarial.pgd_linf(model_ref(), x, labels, eps, step_size, key[0], random_start=key[1])

        per_model[key] = tf.function(run, jit_compile=key[2], reduce_retracing=True)
    return per_model[key]


def _weak(fn):
    """A callable returning ``fn`` without keeping it alive (so the cache's values do not pin its keys)."""
    try:
        return weakref.ref(fn)
    except TypeError:
        return lambda: fn


def pgd_fast(model_fn, x, y, params):
    """PGD L-inf (Madry et al. 2018; PNI sec. 4.1) by ``zoo.adversarial.pgd_linf`` in a cached tf.function."""
    fn = compiled_pgd(model_fn, params["nb_iter"], params["rand_init"], params["jit_compile"])
    return fn(x, tf.cast(y, tf.int32), tf.constant(params["eps"], tf.float32),
              tf.constant(params["eps_iter"], tf.float32))


def laplace_surrogate(model_fn, n=8, b=0.03, seed=None):
    """x -> mean over n draws of model_fn(clip(x + Laplace(0, b), 0, 1)): the assumed random channel.

    Study sec. 3.4 / App. D.5: the partially adaptive attacker knows the defense has a random input
    channel but not which, and models it as Laplace noise (sampled by ``zoo.layers.LaplaceNoise``).
    """
    noise = LaplaceNoise(scale=float(b), seed=seed)
    n = max(1, int(n))

    def fn(x):
        draws = [model_fn(tf.clip_by_value(noise(x, training=False), 0.0, 1.0)) for _ in range(n)]
        return tf.add_n(draws) / float(n)

    return fn


def partial_adaptive(model_fn, x, y, params):
    """Partially adaptive attack (study sec. 3.4, App. D.5): PGD L-inf on the Laplace-channel surrogate."""
    surrogate = laplace_surrogate(model_fn, params["n"], params["b"], params["seed"])
    return adversarial.pgd_linf(surrogate, x, y, params["eps"], params["eps_iter"], int(params["nb_iter"]),
                                random_start=bool(params["rand_init"]))


def transfer(model_fn, x, y, params):
    """Transfer attack: ``source_attack`` crafted on ``source_fn``; the caller evaluates it on ``model_fn``."""
    source_fn, name = params["source_fn"], params["source_attack"]
    if source_fn is None or not callable(source_fn):
        raise ZooError(f"attack transfer source_fn={source_fn!r}: expected the source model's model_fn (x -> logits)")
    if get(name).kind == "transfer":
        raise ZooError(f"attack transfer source_attack={name!r}: expected a white- or black-box attack")
    return run_attack(name, source_fn, x, y, **dict(params["source_params"] or {}))


def majority_vote(model_fn, x, n=9):
    """Study App. D.4 defense: the label predicted most often over ``n`` stochastic passes (ties: smallest label).

    Returns int32 labels [N] (a tf.Tensor).
    """
    n = int(n)
    if n < 1:
        raise ZooError(f"majority_vote n={n}: expected a number of passes >= 1")
    x = tf.convert_to_tensor(x, tf.float32)
    votes = None
    for _ in range(n):
        logits = model_fn(x)
        one_hot = tf.one_hot(tf.argmax(logits, axis=-1), tf.shape(logits)[-1], dtype=tf.int32)
        votes = one_hot if votes is None else votes + one_hot
    return tf.argmax(votes, axis=-1, output_type=tf.int32)  # first maximum: the smallest tied label


for _spec in (
    AttackSpec("step_ll", step_ll, dict(eps=EPS), "linf", "whitebox",
               "Kurakin et al. 2017 (Adversarial ML at Scale), Step-LL: eps=8/255"),
    AttackSpec("pgd_fast", pgd_fast, dict(eps=EPS, eps_iter=STEP, nb_iter=7, rand_init=True, jit_compile=False),
               "linf", "whitebox",
               "PNI sec. 4.1 (PGD, Madry et al. 2018), as `pgd`; zoo.adversarial.pgd_linf in a cached tf.function"),
    AttackSpec("partial_adaptive", partial_adaptive,
               dict(eps=EPS, eps_iter=STEP, nb_iter=20, rand_init=True, n=8, b=0.03, seed=None), "linf", "whitebox",
               "Perturbation study sec. 3.4 and App. D.5: PGD-20 eps=8/255 step 2/255 through an assumed "
               "Laplace(0, 0.03) input channel, 8 draws"),
    AttackSpec("transfer", transfer, dict(source_fn=None, source_attack="pgd", source_params=None), None, "transfer",
               "Transfer attack (Papernot et al. 2016): x_adv crafted on a source model, evaluated on the target"),
):
    register(_spec)
