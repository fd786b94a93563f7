"""``python -m trainers.eat --flagfile=...``: the eat method (defined in ``trainers.methods.eat``)."""
from trainers.methods.eat import EATTrainer  # noqa: F401  (the names importable from here too)

__all__ = ["EATTrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("eat")
