"""PGD adversarial training, "PAT" (Madry et al. 2018; ANP's PAT baseline; PNI's "vanilla adv. train").

PGD-k L-inf with random start, eps 8/255, step 0.01, 7 steps by default (Study sec. 3.7 and the PNI
code; ANP's PAT config sets PGD-10 with step 2/255); loss on the adversarial examples, or
(1 - adv_ratio) * L(x) + adv_ratio * L(x_adv) with ``--adv_ratio``. x_adv is crafted with batch norm
in inference mode (``--attack_bn``, see ``trainers.base``).
"""
from trainers.base import AdversarialTrainer, register


@register("pgd")
class PGDTrainer(AdversarialTrainer):
    """Madry et al. min-max training with the true labels in the attack."""
