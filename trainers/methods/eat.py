"""EAT, ensemble adversarial training (Tramer et al. 2018; an ANP baseline).

ANP's implementation details: "settings for EAT are the same for NAT except for the target models".
For each mini-batch the source of the adversarial examples is drawn uniformly from the model being
trained and the static, pre-trained hold-out models (SavedModels given by ``--eat_holdout``, called
through their ``serve_deterministic`` signature); Step-LL examples from that source, with NAT's
per-example eps ~ |N(0, 8/255)| truncated to [0, 16/255], are trained 1:1 with the clean ones.
"""
import tensorflow as tf

from trainers.base import register
from trainers.methods.nat import NATTrainer
from zoo import adversarial
from zoo.errors import ZooError


def load_holdout(path):
    """The deterministic signature of an exported SavedModel, as ``model_fn(x) -> logits``."""
    try:
        loaded = tf.saved_model.load(path)
    except (OSError, ValueError) as err:
        raise ZooError(f"--eat_holdout={path}: not a loadable SavedModel ({type(err).__name__})") from None
    signature = loaded.signatures.get("serve_deterministic") or loaded.signatures["serving_default"]
    fn = lambda x: signature(images=x)["logits"]  # noqa: E731
    fn.keep_alive = loaded  # the signature needs its object alive
    return fn


@register("eat")
class EATTrainer(NATTrainer):

    def __init__(self, net, config, **kwargs):
        super().__init__(net, config, **kwargs)
        object.__setattr__(self, "holdouts", tuple(load_holdout(p) for p in config.eat_holdout))

    def sources(self):
        """The candidate sources of x_adv: index 0 the model being trained, then the hold-outs in flag order."""
        return [self.attack_fn()] + list(self.holdouts)

    def adversarial_examples(self, x, return_source=False):
        """Step-LL examples from a source drawn uniformly per mini-batch (Tramer et al. 2018; ANP "EAT")."""
        eps = self.sample_eps(tf.shape(x)[0])
        branches = [lambda fn=fn: adversarial.step_ll(fn, x, eps) for fn in self.sources()]
        pick = tf.random.uniform([], 0, len(branches), dtype=tf.int32)
        with self.crafting():
            x_adv = tf.stop_gradient(tf.switch_case(pick, branches))
        return (x_adv, pick) if return_source else x_adv
