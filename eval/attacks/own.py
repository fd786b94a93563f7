"""Attacks CleverHans lacks, built on the project's own ``zoo.adversarial`` (the trainers' generators).

* ``step_ll``: Step-LL (Kurakin et al. 2017), one step away from the least-likely class.
* ``pgd_fast``: ``zoo.adversarial.pgd_linf`` compiled in a cached ``tf.function`` (XLA on, off or "auto": timed);
  the benchmark's PGD. EOT is not a parameter: pass ``ServedModel.model_fn(eot=n)`` (an ``EOTModel``).
* ``partial_adaptive``: the perturbation study's partially adaptive attacker (sec. 3.4, App. D.5,
  Table 1): C&W L2 through an assumed Laplace channel, one noise draw per pass;
  ``partial_adaptive_unlimited``: Fig. 11's many draws; ``partial_adaptive_pgd``: at an L-inf budget.
* ``transfer``: x_adv crafted on a source model by another registered attack.
* ``majority_vote``: not an attack, the study's defense option (App. D.4).
"""
import time
import weakref

import tensorflow as tf

from eval.attacks.cleverhans_attacks import cw_l2
from eval.attacks.eot import eot_view
from eval.attacks.registry import AttackSpec, get, register, run_attack
from zoo import adversarial
from zoo.errors import ZooError
from zoo.layers.noise import LaplaceNoise
from zoo.threat import LINF

EPS, STEP = LINF.eps, LINF.step_size


def step_ll(model_fn, x, y, params):
    """Step-LL (Kurakin et al. 2017): x - eps * sign(grad_x L(x, y_LL)); ignores ``y`` by design.

    y_LL is the least-likely class of the (EOT-averaged) logits; the step follows the mean of the
    per-draw loss gradients under gradient EOT (``eval.attacks.eot``), as ``zoo.adversarial.step_ll``.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    fn, target = eot_view(model_fn, adversarial.least_likely(model_fn, x))
    grad = adversarial.loss_gradient(fn, x, target)
    return tf.stop_gradient(tf.clip_by_value(x - params["eps"] * tf.sign(grad), 0.0, 1.0))


# model_fn -> {(steps, random_start, jit_compile): tf.function}. Weak keys: a model_fn that is
# dropped frees its traces. Keep one model_fn object across batches to reuse the trace
# (ServedModel.model_fn() returns a new closure per call).
_PGD_CACHE = weakref.WeakKeyDictionary()


def compiled_pgd(model_fn, steps, random_start=True, jit_compile=False):
    """The cached ``tf.function(x, labels, eps, step_size) -> x_adv`` running ``zoo.adversarial.pgd_linf``.

    eps and the step are tensor arguments (an eps sweep does not retrace); the step count is
    unrolled (DESIGN.md: unrolled loops are faster under XLA) so it is part of the cache key, as are
    random start and XLA. ``reduce_retracing`` lets a smaller last batch share the trace.
    ``jit_compile="auto"``: ``_AutoJit`` times both on the first batch and keeps the faster.
    """
    auto = str(jit_compile).lower() == "auto"
    key = (int(steps), bool(random_start), "auto" if auto else bool(jit_compile))
    try:
        per_model = _PGD_CACHE.setdefault(model_fn, {})
    except TypeError:  # not weak-referenceable: compile without caching
        per_model = {}
    if key not in per_model:
        if auto:
            per_model[key] = _AutoJit(*(compiled_pgd(model_fn, steps, random_start, j) for j in (False, True)),
                                      parts=("pgd_linf", int(steps), bool(random_start)))
        else:
            model_ref = _weak(model_fn)

            def run(x, labels, eps, step_size):
                return adversarial.pgd_linf(model_ref(), x, labels, eps, step_size, key[0], random_start=key[1])

            per_model[key] = tf.function(run, jit_compile=key[2], reduce_retracing=True)
    return per_model[key]


AUTO_JIT_MIN_BATCH = 32  # smaller batches: not worth a second compilation (and too noisy to time)
JIT_DECISIONS = []  # every auto decision of this process, for the log and the report


class _AutoJit:
    """Run the faster of two compiled attacks (without / with XLA), timed on the first batch or read from the
    per-CPU cache (``zoo.machine``); the decision is logged and appended to ``JIT_DECISIONS``."""

    def __init__(self, plain, xla, parts):
        self.fns, self.parts, self.choice = {False: plain, True: xla}, parts, None

    def __call__(self, x, labels, eps, step_size):
        if self.choice is None:
            self.choice = self._decide(x, labels, eps, step_size)
        return self.fns[self.choice](x, labels, eps, step_size)

    def _decide(self, x, labels, eps, step_size):
        from absl import logging

        from zoo.machine import choice_key, cpu_model, read_choice, write_choice
        n = int(x.shape[0])
        key = choice_key(*self.parts, tuple(x.shape))
        decision = read_choice(key)
        if decision:
            decision = {**decision, "why": decision["why"] + " (cached measurement)"}
        elif n < AUTO_JIT_MIN_BATCH:
            decision = {"jit_compile": False, "why": f"auto: a batch of {n} (< {AUTO_JIT_MIN_BATCH}) is not timed"}
        else:
            seconds = {}
            for jit, fn in self.fns.items():
                fn(x, labels, eps, step_size)  # trace / compile
                start = time.perf_counter()
                float(tf.reduce_sum(fn(x, labels, eps, step_size)))
                seconds[jit] = time.perf_counter() - start
            rate = {("xla" if j else "no_xla"): round(n / t, 1) for j, t in seconds.items()}
            decision = {"jit_compile": seconds[True] < seconds[False], "images_per_s": rate,
                        "why": f"auto: XLA {rate['xla']} img/s vs {rate['no_xla']} without on {cpu_model()}"}
            write_choice(key, decision)
        JIT_DECISIONS.append({"attack": self.parts[0], "steps": self.parts[1], **decision})
        logging.info("pgd_fast jit_compile=%s: %s", decision["jit_compile"], decision["why"])
        return decision["jit_compile"]


def _weak(fn):
    """A callable returning ``fn`` without keeping it alive (so the cache's values do not pin its keys)."""
    try:
        return weakref.ref(fn)
    except TypeError:
        return lambda: fn


def pgd_fast(model_fn, x, y, params):
    """PGD L-inf (Madry et al. 2018; PNI sec. 4.1) by ``zoo.adversarial.pgd_linf`` in a cached tf.function."""
    fn = compiled_pgd(model_fn, params["steps"], params["random_start"], params["jit_compile"])  # "auto": timed
    return fn(x, tf.cast(y, tf.int32), tf.constant(params["eps"], tf.float32),
              tf.constant(params["step_size"], tf.float32))


# The perturbation study's C&W L2 (Table 1, Fig. 11: foolbox's attack with 100 iterations, 5 binary-search
# steps, initial c 0.01; the learning rate is not stated: foolbox's default 5e-3).
STUDY_CW = dict(max_iterations=100, binary_search_steps=5, initial_const=0.01, learning_rate=5e-3, confidence=0.0,
                abort_early=True)
UNLIMITED_DRAWS = 32


def laplace_surrogate(model_fn, draws=1, b=0.03, seed=None):
    """x -> model_fn(clip(x + Laplace(0, b), 0, 1)), averaged over ``draws`` fresh draws per call.

    Study sec. 3.4 / App. D.5: the partially adaptive attacker knows the defense has a random input
    channel but not which, and models it as Laplace noise (sampled by ``zoo.layers.LaplaceNoise``).
    ``draws=1`` is one noise injection per forward pass (the study's single adaptive step); more
    draws are Fig. 11's "many noise iterations".
    """
    draws = int(draws)
    if draws < 1:
        raise ZooError(f"partial adaptive attack draws={draws}: expected an integer >= 1 (noise draws per pass)")
    noise = LaplaceNoise(scale=float(b), seed=seed)

    def fn(x):
        outs = [model_fn(tf.clip_by_value(noise(x, training=False), 0.0, 1.0)) for _ in range(draws)]
        return outs[0] if draws == 1 else tf.add_n(outs) / float(draws)

    return fn


def partial_adaptive(model_fn, x, y, params):
    """Partially adaptive attack (study sec. 3.4, App. D.5, Table 1 row "Laplace"): the study's C&W L2
    (``STUDY_CW``) against model + an assumed Laplace(0, b) channel, ``draws`` noise draws per pass.

    ``partial_adaptive`` takes one draw per pass (single adaptive step), ``partial_adaptive_unlimited``
    many (Fig. 11); unbounded like ``cw_l2`` (where it fails it returns x).
    """
    surrogate = laplace_surrogate(model_fn, params["draws"], params["b"], params["seed"])
    return cw_l2(surrogate, x, y, {k: v for k, v in params.items() if k not in ("draws", "b", "seed")})


def partial_adaptive_pgd(model_fn, x, y, params):
    """The partially adaptive attack at an L-inf budget: PGD through the Laplace(0, b) surrogate, ``draws`` per step."""
    surrogate = laplace_surrogate(model_fn, params["draws"], params["b"], params["seed"])
    return adversarial.pgd_linf(surrogate, x, y, params["eps"], params["step_size"], int(params["steps"]),
                                random_start=bool(params["random_start"]))


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
    AttackSpec("pgd_fast", pgd_fast, dict(eps=EPS, step_size=STEP, steps=7, random_start=True, jit_compile="auto"),
               "linf", "whitebox",
               "PNI sec. 4.1 (PGD, Madry et al. 2018), as `pgd`; zoo.adversarial.pgd_linf in a cached tf.function",
               eot_loss=True),
    AttackSpec("partial_adaptive", partial_adaptive, dict(STUDY_CW, batch_size=None, draws=1, b=0.03, seed=None),
               "l2", "whitebox",
               "Perturbation study sec. 3.4, App. D.5, Table 1 (row Laplace): C&W L2, 100 iterations, 5 binary-search "
               "steps, c0=0.01, lr 5e-3, through an assumed Laplace(0, 0.03) input channel, one draw per pass"),
    AttackSpec("partial_adaptive_unlimited", partial_adaptive,
               dict(STUDY_CW, batch_size=None, draws=UNLIMITED_DRAWS, b=0.03, seed=None), "l2", "whitebox",
               "Perturbation study Fig. 11 (many noise iterations): partial_adaptive with 32 Laplace draws "
               "averaged per pass (the paper goes to 2^14)"),
    AttackSpec("partial_adaptive_pgd", partial_adaptive_pgd,
               dict(eps=EPS, step_size=STEP, steps=20, random_start=True, draws=1, b=0.03, seed=None), "linf",
               "whitebox", "Perturbation study sec. 3.4 at PNI's budget: PGD-20 eps=8/255 step 2/255 through an "
               "assumed Laplace(0, 0.03) input channel, one draw per step"),
    AttackSpec("transfer", transfer, dict(source_fn=None, source_attack="pgd", source_params=None), None, "transfer",
               "Transfer attack (Papernot et al. 2016): x_adv crafted on a source model, evaluated on the target"),
):
    register(_spec)
