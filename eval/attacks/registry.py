"""Attack registry: a flag value (``--attack=pgd``) maps to one ``AttackSpec`` in ``ATTACKS``.

An attack is ``fn(model_fn, x, y, params) -> x_adv``: ``model_fn(x) -> logits`` (EOT and BPDA are
the caller's business, applied through ``model_fn``; see ``eval.model.ServedModel.model_fn`` and
``eval.attacks.eot``),
``x`` float32 images [N,H,W,C] in [0,1] (pixel space is the contract, PNI sec. 4.1), ``y`` integer
labels [N], ``params`` the spec's defaults merged with the caller's overrides. It returns a float32
``tf.Tensor`` in [0,1] within the attack's budget: ``params["eps"]`` in the spec's ``norm`` when the
spec has an ``eps`` (C&W L2 minimises distortion instead and has no budget).

EOT (``eval.attacks.eot``): for a spec with ``eot_loss=True`` (fgsm, bim, pgd, pgd_l2, mifgsm,
pgd_fast: a cross-entropy summed over the batch) and a ``model_fn`` that is an ``EOTModel`` in
gradient mode, ``run_attack`` passes the stacked draws and tiled labels, so the attack follows the
mean of the per-draw loss gradients (Athalye et al. 2018). step_ll and spsa apply it themselves;
cw_l2, partial_adaptive and transfer's target see the logits averaged over the draws. APGD
(``eval.attacks.apgd``) stacks the draws itself (per-example losses are needed for its step-size rule
and early exit) and Square averages the per-draw margin.

``run_attack`` is the one entry point: it merges, validates (one-line ``ZooError`` for an unknown
attack or parameter, a negative size, a step larger than the budget, images outside [0,1]) and calls.
"""
import numbers
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from eval.attacks.eot import eot_view
from zoo.errors import ZooError, choice_error
from zoo.registry import Registry

NORMS = ("linf", "l2", None)
KINDS = ("whitebox", "blackbox", "transfer")

# Parameters that are sizes or counts: a negative value is a usage error.
_NON_NEGATIVE = ("eps", "step_size", "steps", "start_radius", "decay_factor", "initial_const", "learning_rate",
                 "binary_search_steps", "max_iterations", "confidence", "batch_size", "spsa_samples",
                 "spsa_iters", "delta", "n", "b", "n_restarts", "n_target_classes", "n_queries", "p_init", "rho",
                 "alpha")


@dataclass(frozen=True)
class AttackSpec:
    """One registered attack: ``fn(model_fn, x, y, params)`` with its paper ``defaults``.

    ``norm`` is the norm its budget ``eps`` is measured in ('linf', 'l2' or None), ``kind`` is
    'whitebox' (uses gradients), 'blackbox' (queries logits only) or 'transfer' (crafted on another
    model), ``paper`` names the paper section the defaults come from. ``eot_loss``: the attack's
    loss is a per-example cross-entropy of (model_fn(x), y) summed or averaged over the batch and y
    is used for nothing else, so ``run_attack`` may hand it stacked EOT draws with tiled labels.
    """

    name: str
    fn: object
    defaults: dict = field(default_factory=dict)
    norm: object = None
    kind: str = "whitebox"
    paper: str = ""
    eot_loss: bool = False

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"attack {self.name} norm={self.norm!r}: expected one of linf, l2, None")
        if self.kind not in KINDS:
            raise ValueError(f"attack {self.name} kind={self.kind!r}: expected one of {', '.join(KINDS)}")

    @property
    def bounded(self):
        """True when the attack keeps ||x_adv - x||_norm <= params['eps']."""
        return self.norm is not None and "eps" in self.defaults


ATTACKS = Registry("attack")  # name -> AttackSpec


def register(spec):
    """Add ``spec`` to ``ATTACKS`` under ``spec.name`` (a name is registered once); returns it."""
    return ATTACKS.register(spec.name, spec)


def list_attacks():
    """Names accepted by ``get`` / ``run_attack``, sorted."""
    return ATTACKS.names()


def get(name):
    """The ``AttackSpec`` registered as ``name``; one-line ZooError listing the attacks otherwise."""
    return ATTACKS.get(name)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def validate_params(spec, overrides):
    """Defaults merged with ``overrides``; one-line ZooError for an unknown name or a bad value."""
    for key in overrides:
        if key not in spec.defaults:
            raise choice_error(f"parameter of attack {spec.name}:", key, spec.defaults)
    params = {**spec.defaults, **overrides}
    for key, value in params.items():
        default = spec.defaults[key]
        if _is_number(default) and not _is_number(value):
            raise ZooError(f"attack {spec.name} {key}={value!r}: expected a number")
        if isinstance(default, bool) and not isinstance(value, (bool, np.bool_)):
            raise ZooError(f"attack {spec.name} {key}={value!r}: expected True or False")
        if key == "jit_compile" and not (isinstance(value, (bool, np.bool_)) or value == "auto"):
            raise ZooError(f"attack {spec.name} jit_compile={value!r}: expected True, False or 'auto'")
        if key in _NON_NEGATIVE and _is_number(value) and value < 0:
            raise ZooError(f"attack {spec.name} {key}={value}: expected a value >= 0")
    eps, step_size = params.get("eps"), params.get("step_size")
    if _is_number(eps) and _is_number(step_size) and eps > 0 and step_size > eps:
        raise ZooError(f"attack {spec.name} step_size={step_size}: expected a step <= eps={eps}")
    return params


def _check_inputs(name, x, y, model_fn):
    from eval.model import check_images  # one place states the image contract
    try:
        x_np = check_images(np.asarray(x))
    except ZooError as err:
        raise ZooError(f"attack {name}: {err}") from None
    x_tf = tf.convert_to_tensor(x_np, tf.float32)
    if y is None:  # no labels: the model's own predictions (CleverHans' label-leak-free default)
        return x_tf, tf.argmax(model_fn(x_tf), axis=-1, output_type=tf.int32)
    y_np = np.asarray(y)
    if y_np.shape != (len(x_np),) or not np.issubdtype(y_np.dtype, np.integer):
        raise ZooError(f"attack {name}: labels of shape {y_np.shape} and dtype {y_np.dtype}: "
                       f"expected [{len(x_np)}] integer class ids, one per image")
    return x_tf, tf.convert_to_tensor(y_np, tf.int32)


def run_attack(name, model_fn, x, y, **overrides):
    """x_adv (float32 tf.Tensor in [0,1]) from attack ``name`` with its defaults and ``overrides``.

    ``eps=0`` on a bounded attack returns ``x`` itself (an eps sweep may start at 0; CleverHans
    would reject its default step being larger than the budget).
    """
    spec = get(name)
    params = validate_params(spec, overrides)
    x, y = _check_inputs(name, x, y, model_fn)
    if spec.bounded and params["eps"] == 0:
        return tf.identity(x)
    if spec.eot_loss:  # gradient EOT: the loss averages over the stacked draws (eval.attacks.eot)
        model_fn, y = eot_view(model_fn, y)
    x_adv = spec.fn(model_fn, x, y, params)
    return tf.convert_to_tensor(x_adv, tf.float32)
