"""``python -m trainers.pni --flagfile=...``: the pni method (defined in ``trainers.methods.pni``)."""
from trainers.methods.pni import PNITrainer  # noqa: F401  (the names importable from here too)

__all__ = ["PNITrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("pni")
