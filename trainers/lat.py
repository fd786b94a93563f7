"""``python -m trainers.lat --flagfile=...``: the lat method (defined in ``trainers.methods.lat``)."""
from trainers.methods.lat import LATTrainer  # noqa: F401  (the names importable from here too)

__all__ = ["LATTrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("lat")
