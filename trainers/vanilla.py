"""Plain training (the "vanilla" / "no defense" rows of PNI Table 3 and ANP's "Vanilla")."""
from trainers.base import Trainer, register


@register("vanilla")
class VanillaTrainer(Trainer):
    """Cross-entropy on clean images; noise layers of the model (if any) stay active in training."""


if __name__ == "__main__":
    from trainers.run import cli
    cli("vanilla")
