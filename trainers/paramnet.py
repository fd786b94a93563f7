"""``python -m trainers.paramnet --flagfile=...``: the paramnet method (defined in ``trainers.methods.paramnet``)."""
from trainers.methods.paramnet import ParamNetTrainer  # noqa: F401  (the names importable from here too)

__all__ = ["ParamNetTrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("paramnet")
