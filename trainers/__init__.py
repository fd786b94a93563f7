"""Training methods, one module each (``python -m trainers.<method> --flagfile=...``).

``trainers.run.TRAINERS`` maps a method name to its ``keras.Model`` subclass: vanilla, pgd (PAT),
pni, anp, robustnet (RobustNet / RobustNet Adv.), paramnet, nat, eat, lat. The package itself imports no
method module, so ``python -m trainers.<method>`` runs each module exactly once as ``__main__``.
"""
import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment, before TensorFlow loads)
