"""EOT, Expectation over Transformation (Athalye et al. 2018, sec. 4.3), for attacks on random models.

Athalye et al. define EOT as following the loss gradient averaged over draws t of the randomness,
E_t[grad_x L(f_t(x), y)] = grad_x E_t[L(f_t(x), y)]. ``EOTModel(draw, n, mode)`` is a model_fn
(``x -> logits``) that carries how an attack should average over ``n`` draws of ``draw``:

* ``mode="gradient"`` (default, Athalye et al.): ``eot_view`` hands an attack ``stacked`` (the n
  draws' logits concatenated, [n*N, C]) with the labels tiled n times. An attack's loss is a sum or
  mean over its batch of per-example losses, so it becomes the mean over draws of the per-draw loss,
  whose gradient is the mean of the per-draw loss gradients (times n, which sign steps, L2-normalised
  steps and MI-FGSM's normalisation ignore).
* ``mode="logits"``: the attack follows the gradient of the loss of the logits averaged over n
  draws, L(E_t[f_t(x)], y) (this project's earlier EOT). For cross-entropy the two differ: averaged
  logits can cancel (a random sign flip averages to 0, and so does its gradient), per-draw losses do not.

Calling an ``EOTModel`` returns the logits averaged over its n draws in both modes: what attacks
use for predictions (labels, the least-likely class, C&W's success bookkeeping). Which attacks
average per-draw losses is listed in ``eval.attacks.registry`` (``AttackSpec.eot_loss``); C&W-L2
and the partially adaptive attack average logits in both modes.
"""
import tensorflow as tf

from zoo.errors import choice_error

EOT_MODES = ("gradient", "logits")


class EOTModel:
    """``x -> logits`` averaged over ``n`` calls of ``draw``; ``stacked(x)`` gives the n draws, [n*N, C]."""

    def __init__(self, draw, n=1, mode="gradient"):
        if mode not in EOT_MODES:
            raise choice_error("eot_mode", mode, EOT_MODES)
        self.draw, self.n, self.mode = draw, max(1, int(n)), mode
        count = self.n

        def stacked(x):  # one object per EOTModel, so traced attacks can cache on it
            return tf.concat([draw(x) for _ in range(count)], axis=0)

        self.stacked = stacked

    @property
    def averages_gradients(self):
        """True when attacks must average per-draw losses (gradient EOT with more than one draw)."""
        return self.mode == "gradient" and self.n > 1

    def __call__(self, x):
        if self.n == 1:
            return self.draw(x)
        return tf.add_n([self.draw(x) for _ in range(self.n)]) / float(self.n)


def eot_view(model_fn, labels):
    """(model_fn, labels) for a loss summed over the batch: under gradient EOT the n stacked draws
    and the labels tiled n times (the loss then averages per-draw losses), otherwise as given."""
    if isinstance(model_fn, EOTModel) and model_fn.averages_gradients:
        return model_fn.stacked, tf.tile(tf.convert_to_tensor(labels), [model_fn.n])
    return model_fn, labels


def per_draw(model_fn, values_fn, x):
    """Mean over draws of ``values_fn(logits)`` (a per-example loss [N]) under gradient EOT, else of the
    (logit-averaged) model's logits: the loss an attack without gradients (SPSA) should minimise."""
    if isinstance(model_fn, EOTModel) and model_fn.averages_gradients:
        logits = model_fn.stacked(x)
        values = values_fn(logits)
        return tf.reduce_mean(tf.reshape(values, [model_fn.n, -1]), axis=0)
    return values_fn(model_fn(x))
