"""Training methods, one module each (``python -m trainers.<method> --flagfile=...``).

``trainers.run.TRAINERS`` maps a method name to its ``keras.Model`` subclass: vanilla, pgd (PAT),
pni, anp, robustnet (RobustNet / RobustNet Adv.), paramnet, nat, eat, lat. The package itself imports no
method module, so ``python -m trainers.<method>`` runs each module exactly once as ``__main__``.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
