"""``python -m trainers.vanilla --flagfile=...``: the vanilla method (defined in ``trainers.methods.vanilla``)."""
from trainers.methods.vanilla import VanillaTrainer  # noqa: F401  (the names importable from here too)

__all__ = ["VanillaTrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("vanilla")
