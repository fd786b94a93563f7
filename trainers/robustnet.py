"""``python -m trainers.robustnet --flagfile=...``: the robustnet method (defined in ``trainers.methods.robustnet``)."""
from trainers.methods.robustnet import RobustNetTrainer  # noqa: F401  (the names importable from here too)

__all__ = ["RobustNetTrainer"]

if __name__ == "__main__":
    from trainers.cli import cli
    cli("robustnet")
