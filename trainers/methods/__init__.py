"""The training methods, one module each, that only define and register their ``Trainer`` subclass.

Importing this package registers every method in ``trainers.base.TRAINERS``; the command lines
(``python -m trainers.<method>``, ``python -m trainers --method=<method>``) live in ``trainers.cli``.
"""
from trainers.methods import anp, eat, lat, nat, paramnet, pgd, pni, robustnet, vanilla  # noqa: F401

__all__ = ["anp", "eat", "lat", "nat", "paramnet", "pgd", "pni", "robustnet", "vanilla"]
