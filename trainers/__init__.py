"""Training methods, one module each (``python -m trainers.<method> --flagfile=...``).

``TRAINERS`` maps a method name to its ``keras.Model`` subclass: vanilla, pgd (PAT), pni, anp,
robustnet (RobustNet / RobustNet Adv.), nat, eat, lat.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from trainers.base import TRAINERS, Trainer, register  # noqa: E402
from trainers import anp, eat, lat, nat, pgd, pni, robustnet, vanilla  # noqa: E402,F401  (registration)

__all__ = ["TRAINERS", "Trainer", "register"]
