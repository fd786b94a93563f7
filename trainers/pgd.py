"""PGD adversarial training, "PAT" (Madry et al. 2018; ANP's PAT baseline; PNI's "vanilla adv. train").

PGD-k L-inf with random start, eps 8/255, step 2/255 by default; loss on the adversarial examples,
or (1 - adv_ratio) * L(x) + adv_ratio * L(x_adv) with ``--adv_ratio``.
"""
from trainers.base import AdversarialTrainer, register


@register("pgd")
class PGDTrainer(AdversarialTrainer):
    """Madry et al. min-max training with the true labels in the attack."""


if __name__ == "__main__":
    from trainers.run import cli
    cli("pgd")
