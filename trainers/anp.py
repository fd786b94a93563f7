"""``python -m trainers.anp --flagfile=...``: the anp method (defined in ``trainers.methods.anp``)."""
from trainers.methods.anp import ANPTrainer  # noqa: F401  (the names importable from here too)

__all__ = ["ANPTrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("anp")
