"""Training methods and their command lines.

* ``trainers.methods.<method>``: one module per method that only defines and registers its ``keras.Model``
  subclass in ``trainers.base.TRAINERS`` (vanilla, pgd (PAT), pni, anp, robustnet (RobustNet / RobustNet
  Adv.), paramnet, nat, eat, lat); ``import trainers.methods`` registers them all.
* ``trainers.run``: the library (``train(config)``: build, fit, checkpoint, export); ``trainers.config``: the
  ``TrainConfig`` and its validation; ``trainers.callbacks``: checkpoints and logs.
* ``trainers.cli``: flags -> TrainConfig -> train; ``trainers.<method>`` are thin entry modules
  (``python -m trainers.<method> --flagfile=...``), as is ``python -m trainers --method=<method>``.
* ``trainers.channel`` (an input channel on trained weights) and ``trainers.ship`` (model card) make zoo models.

Imports only go down: cli -> run -> methods -> base -> zoo.
"""
import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment, before TensorFlow loads)
