"""``python -m trainers.pgd --flagfile=...``: the pgd method (defined in ``trainers.methods.pgd``)."""
from trainers.methods.pgd import PGDTrainer  # noqa: F401  (the names importable from here too)

__all__ = ["PGDTrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("pgd")
