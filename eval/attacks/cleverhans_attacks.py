"""Attacks wrapping CleverHans 4.0.0 (``cleverhans.tf2.attacks``) with the papers' CIFAR settings.

Pixel scale [0,1] everywhere (clip_min=0, clip_max=1), true labels passed as ``y`` (no label
leaking), ``sanity_checks=False`` (CleverHans' asserts are NumPy ``all`` over tensors and cost a
host sync per call; ``eval.attacks.registry.run_attack`` validates inputs instead).

CleverHans 4.0.0 was written for TF 2.0-2.4 / tf.keras 2. Under TF 2.21 + Keras 3 two attacks
need repairs, made here without touching the installed package:

* ``carlini_wagner_l2`` crashes (``optimizer.variables()``: in Keras 3 ``variables`` is a list, and
  it also holds the learning rate, so zeroing "all variables" would freeze the attack); it treats
  any given ``y`` as a *target* (``self.targeted = y is not None``, ignoring ``targeted=False``);
  its trade-off constant ``const`` has the image's shape [N,H,W,C] while every mask is [N], so the
  binary search broadcasts against the channel axis (error for C=3, silently wrong for C=1); a
  Keras 3 optimizer refuses a second ``modifier`` variable ("Unknown variable"), so a second batch
  fails; and with ``batch_size < len(x)`` the full ``y`` meets a batch-sized ``x`` ("x and y do not
  have the same shape"). ``_CarliniWagnerL2`` below keeps CleverHans' loss, tanh change of
  variables, Adam step and binary search, and fixes those.
* ``spsa`` crashes building ``SPSAAdam`` (``tf.optimizers.Adam(lr=...)``: Keras 3 has no ``lr``)
  and accepts one image at a time (a tf.Tensor with static batch 1). ``_SPSAAdam`` reuses
  SPSAAdam's own methods on a plain object, and the wrapper loops over the examples.

Parameters use the project's vocabulary (``zoo.threat``): ``step_size``, ``steps``, ``random_start`` and
``start_radius`` become CleverHans' ``eps_iter``, ``nb_iter``, ``rand_init`` and ``rand_minmax`` here, the
only module that calls CleverHans.

``projected_gradient_descent`` with ``norm=2`` is correct: ``random_lp_vector`` samples uniformly
in the L2 ball per example (Calafiore et al. 1998), ``clip_eta`` rescales per example to
||eta||_2 <= eps, and box clipping only shrinks the perturbation (tested).
"""
import keras
import numpy as np
import tensorflow as tf
from cleverhans.tf2.attacks.basic_iterative_method import basic_iterative_method
from cleverhans.tf2.attacks.carlini_wagner_l2 import CarliniWagnerL2
from cleverhans.tf2.attacks.fast_gradient_method import fast_gradient_method
from cleverhans.tf2.attacks.momentum_iterative_method import momentum_iterative_method
from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent
from cleverhans.tf2.attacks.spsa import SPSAAdam, margin_logit_loss, projected_optimization
from cleverhans.tf2.utils import get_or_guess_labels, set_with_mask

from eval.attacks.eot import per_draw
from eval.attacks.registry import AttackSpec, register
from zoo.errors import ZooError
from zoo.threat import L2, LINF

EPS, STEP = LINF.eps, LINF.step_size
BOX = dict(clip_min=0.0, clip_max=1.0)


def fgsm(model_fn, x, y, params):
    """FGSM, L-inf (Goodfellow et al. 2015): x + eps * sign(grad_x L(x, y)); PNI sec. 4.1."""
    return fast_gradient_method(model_fn, x, params["eps"], np.inf, y=y, sanity_checks=False, **BOX)


def bim(model_fn, x, y, params):
    """BIM (Kurakin et al. 2017): ``steps`` FGSM steps of ``step_size``, projected on the eps ball, no random start."""
    return basic_iterative_method(model_fn, x, params["eps"], params["step_size"], int(params["steps"]), np.inf,
                                  y=y, sanity_checks=False, **BOX)


def _pgd(norm):
    def attack(model_fn, x, y, params):
        rand_minmax = params["start_radius"] if params["start_radius"] is not None else params["eps"]
        return projected_gradient_descent(model_fn, x, params["eps"], params["step_size"], int(params["steps"]),
                                          norm, y=y, rand_init=bool(params["random_start"]), rand_minmax=rand_minmax,
                                          sanity_checks=False, **BOX)
    return attack


pgd = _pgd(np.inf)
pgd.__doc__ = "PGD L-inf (Madry et al. 2018) with random start in the eps ball; PNI sec. 4.1 (PGD-7)."
pgd_l2 = _pgd(2)
pgd_l2.__doc__ = ("PGD L2 (Madry et al. 2018): normalised-gradient steps, random start uniform in the L2 ball, "
                  "per-example projection onto ||x_adv - x||_2 <= eps.")


def mifgsm(model_fn, x, y, params):
    """MI-FGSM (Dong et al. 2018): momentum g <- mu g + grad / mean|grad|, step step_size * sign(g); ANP uses it."""
    return momentum_iterative_method(model_fn, x, params["eps"], params["step_size"], int(params["steps"]), np.inf,
                                     y=y, decay_factor=params["decay_factor"], sanity_checks=False, **BOX)


class _CarliniWagnerL2(CarliniWagnerL2):
    """CleverHans' C&W L2 (Carlini & Wagner 2017) repaired for Keras 3 (see the module docstring).

    ``_attack`` follows CleverHans line by line except: ``targeted`` is honoured, ``const`` and the
    binary-search bounds are per example ([N]), a fresh Adam (the paper's optimiser) starts each
    binary-search step instead of zeroing the old one's variables, and the success test adds the
    confidence kappa to the label's logit only (CleverHans adds it to every logit, which changes no
    argmax; irrelevant at the paper's kappa=0).
    """

    def __init__(self, model_fn, y=None, targeted=False, **kwargs):
        super().__init__(model_fn, y=y, targeted=targeted, **kwargs)
        self.targeted = bool(targeted)  # CleverHans sets `y is not None`: true labels would become targets

    def attack(self, x):
        x = np.asarray(x, np.float32)
        y_all = None if self.y is None else np.asarray(self.y)
        adv = np.zeros_like(x)
        for i in range(0, len(x), self.batch_size):
            y = None if y_all is None else y_all[i:i + self.batch_size]
            adv[i:i + self.batch_size] = self._attack(x[i:i + self.batch_size], y).numpy()
        return adv

    def _attack(self, x, y=None):
        y, _ = get_or_guess_labels(self.model_fn, x, y=y, targeted=self.targeted)
        original_x = tf.cast(x, tf.float32)
        shape = original_x.shape
        n = shape[0]

        x = (original_x - self.clip_min) / (self.clip_max - self.clip_min)
        x = tf.clip_by_value(x, 0.0, 1.0)
        x = tf.atanh((x * 2.0 - 1.0) * 0.999999)  # tanh space

        lower_bound = tf.zeros([n])
        upper_bound = tf.ones([n]) * 1e10
        const = tf.ones([n]) * self.initial_const  # CleverHans: tf.ones(shape) (image-shaped)
        best_l2 = tf.fill([n], 1e10)
        best_score = tf.fill([n], -1)
        best_attack = original_x
        compare_fn = tf.equal if self.targeted else tf.not_equal
        lab = tf.argmax(y, axis=1, output_type=tf.int32)
        modifier = tf.Variable(tf.zeros(shape, dtype=x.dtype), trainable=True)

        for outer_step in range(self.binary_search_steps):
            modifier.assign(tf.zeros(shape, dtype=x.dtype))
            self.optimizer = keras.optimizers.Adam(self.learning_rate)  # CleverHans: zero the old state
            current_best_l2 = tf.fill([n], 1e10)
            current_best_score = tf.fill([n], -1)
            if self.binary_search_steps >= 10 and outer_step == self.binary_search_steps - 1:
                const = upper_bound
            prev = None
            for iteration in range(self.max_iterations):
                x_new, loss, preds, l2_dist = self.attack_step(x, y, modifier, const)
                if self.abort_early and iteration % ((self.max_iterations // 10) or 1) == 0:
                    if prev is not None and loss > prev * 0.9999:
                        break
                    prev = loss
                # kappa on the label's logit only (C&W 2017); CleverHans adds it to every logit, a no-op.
                shift = self.confidence * y
                pred_with_conf = tf.argmax(preds - shift if self.targeted else preds + shift, axis=1,
                                           output_type=tf.int32)
                pred = tf.argmax(preds, axis=1, output_type=tf.int32)
                hit = compare_fn(pred_with_conf, lab)
                mask = tf.logical_and(tf.less(l2_dist, current_best_l2), hit)
                current_best_l2 = set_with_mask(current_best_l2, l2_dist, mask)
                current_best_score = set_with_mask(current_best_score, pred, mask)
                mask = tf.logical_and(tf.less(l2_dist, best_l2), hit)
                best_l2 = set_with_mask(best_l2, l2_dist, mask)
                best_score = set_with_mask(best_score, pred, mask)
                best_attack = set_with_mask(best_attack, x_new, tf.reshape(mask, [-1] + [1] * (len(shape) - 1)))

            # Binary search on const, per example (CleverHans' rule).
            upper_mask = tf.logical_and(compare_fn(best_score, lab), tf.not_equal(best_score, -1))
            upper_bound = set_with_mask(upper_bound, tf.minimum(upper_bound, const), upper_mask)
            const_mask = tf.logical_and(upper_mask, tf.less(upper_bound, 1e9))
            const = set_with_mask(const, (lower_bound + upper_bound) / 2.0, const_mask)
            lower_mask = tf.logical_not(upper_mask)
            lower_bound = set_with_mask(lower_bound, tf.maximum(lower_bound, const), lower_mask)
            const_mask = tf.logical_and(lower_mask, tf.less(upper_bound, 1e9))
            const = set_with_mask(const, (lower_bound + upper_bound) / 2.0, const_mask)
            const = set_with_mask(const, const * 10, tf.logical_not(const_mask))
        return best_attack


def cw_l2(model_fn, x, y, params):
    """C&W L2 (Carlini & Wagner 2017) with PNI sec. 4.1's settings; unbounded: where it fails, returns x.

    The metric reports the L2 distortion of the successful examples (eval.metrics.robustness).
    """
    batch_size = int(params["batch_size"] or len(x))
    attack = _CarliniWagnerL2(model_fn, y=y, targeted=False, batch_size=max(1, batch_size),
                              binary_search_steps=int(params["binary_search_steps"]),
                              max_iterations=int(params["max_iterations"]), abort_early=bool(params["abort_early"]),
                              confidence=params["confidence"], initial_const=params["initial_const"],
                              learning_rate=params["learning_rate"], **BOX)
    return tf.convert_to_tensor(attack.attack(x))


class _SPSAAdam:
    """CleverHans' SPSAAdam without its Keras base class (whose ``__init__(lr=...)`` Keras 3 rejects).

    SPSAAdam only uses the base class for ``beta_1``, ``beta_2``, ``epsilon`` (Keras' Adam defaults
    here) and runs its own Adam update on plain tensors, so its methods are borrowed unchanged.
    """

    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-7
    _get_delta = SPSAAdam._get_delta
    _compute_gradients = SPSAAdam._compute_gradients
    _apply_gradients = SPSAAdam._apply_gradients
    init_state = SPSAAdam.init_state
    minimize = SPSAAdam.minimize

    def __init__(self, lr=0.01, delta=0.01, num_samples=128, num_iters=1):
        self.lr = lr
        self._delta = delta
        self._num_samples = num_samples // 2  # mirrored +/- delta
        self._num_iters = num_iters
        self._compare_to_analytic_grad = False


def spsa(model_fn, x, y, params):
    """SPSA (Uesato et al. 2018): gradient-free, Adam on SPSA estimates of the margin loss, L-inf ball.

    CleverHans' ``spsa`` body (margin logit loss, ``projected_optimization``), one image at a time.
    On a random model (``EOTModel``, gradient mode) the loss is the margin loss averaged over draws.
    """
    samples = int(params["spsa_samples"])
    if samples < 2 or samples % 2:
        raise ZooError(f"attack spsa spsa_samples={samples}: expected an even number >= 2 (mirrored +/- delta)")
    optimizer = _SPSAAdam(lr=params["learning_rate"], delta=params["delta"], num_samples=samples,
                          num_iters=int(params["spsa_iters"]))

    def loss_fn(x_, label):  # untargeted; under gradient EOT the mean over draws of the per-draw loss
        return per_draw(model_fn, lambda logits: -margin_logit_loss(logits, label, nb_classes=logits.shape[-1]), x_)

    out = [projected_optimization(loss_fn, x[i:i + 1], y[i:i + 1], params["eps"], int(params["steps"]), optimizer,
                                  early_stop_loss_threshold=params["early_stop_loss_threshold"], **BOX)
           for i in range(int(x.shape[0]))]
    return tf.concat(out, axis=0) if out else tf.identity(x)


for _spec in (
    AttackSpec("fgsm", fgsm, dict(eps=EPS), "linf", "whitebox",
               "PNI sec. 4.1 (FGSM, Goodfellow et al. 2015): eps=8/255", eot_loss=True),
    AttackSpec("bim", bim, dict(eps=EPS, step_size=STEP, steps=10), "linf", "whitebox",
               "Kurakin et al. 2017 (BIM): eps=8/255, step 2/255, 10 steps", eot_loss=True),
    AttackSpec("pgd", pgd, dict(eps=EPS, step_size=STEP, steps=7, random_start=True, start_radius=None), "linf",
               "whitebox", "PNI sec. 4.1 (PGD, Madry et al. 2018): eps=8/255, step 2/255, 7 steps (20/40/100 via "
               "steps), random start in the eps ball", eot_loss=True),
    AttackSpec("pgd_l2", pgd_l2, dict(eps=L2.eps, step_size=L2.step_size, steps=L2.steps, random_start=True, start_radius=None), "l2",
               "whitebox", "Madry et al. 2018, L2 PGD: eps=0.5 (the usual CIFAR-10 L2 budget), step 0.1, 20 steps",
               eot_loss=True),
    AttackSpec("mifgsm", mifgsm, dict(eps=EPS, step_size=STEP, steps=10, decay_factor=1.0), "linf", "whitebox",
               "Dong et al. 2018 (MI-FGSM), as used by ANP: eps=8/255, step 2/255, 10 steps, mu=1.0", eot_loss=True),
    AttackSpec("cw_l2", cw_l2, dict(initial_const=0.01, learning_rate=5e-4, binary_search_steps=9, max_iterations=10,
                                    confidence=0.0, abort_early=True, batch_size=None), "l2", "whitebox",
               "PNI sec. 4.1 (C&W L2, Carlini & Wagner 2017): c=0.01, lr=5e-4, 9 binary-search steps, "
               "10 iterations, kappa=0"),  # EOT: averaged logits (its per-example masks need one logit row each)
    AttackSpec("spsa", spsa, dict(eps=EPS, steps=10, spsa_samples=64, spsa_iters=1, learning_rate=0.01, delta=0.01,
                                  early_stop_loss_threshold=None), "linf", "blackbox",
               "Uesato et al. 2018 (SPSA), gradient-free: eps=8/255, 10 steps, 64 samples, lr=0.01, delta=0.01"),
):
    register(_spec)
