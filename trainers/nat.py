"""``python -m trainers.nat --flagfile=...``: the nat method (defined in ``trainers.methods.nat``)."""
from trainers.methods.nat import NATTrainer  # noqa: F401  (the names importable from here too)

__all__ = ["NATTrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("nat")
