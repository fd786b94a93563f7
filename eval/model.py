"""The model under evaluation, loaded from the served artifact (a SavedModel version directory) or a
``.keras`` file, with what eval needs to know to attack it honestly.

``ServedModel.model_fn(mode, eot)`` returns ``x -> logits`` for attacks and metrics:

* ``mode="served"``: the model as served (``serving_default``: noise on);
* ``mode="deterministic"``: every noise source off (``serve_deterministic``);
* ``mode="bpda"``: forward as served, backward through non-differentiable channels replaced by
  the identity (``serve_bpda``; BPDA, Athalye et al. 2018 sec. 4.1);
* ``eot=n`` averages the logits of n stochastic passes (EOT for random models; Athalye et al. 2018
  sec. 4.3): attacks then follow the gradient of the expected output.

Randomness and differentiability come from the export metadata (``zoo_metadata.json``), or from the
layers themselves for ``.keras`` files, so the suite applies EOT and BPDA without being told.
"""
import os

import numpy as np
import tensorflow as tf

from zoo.errors import ZooError

MODES = ("served", "deterministic", "bpda")
_SIGNATURES = {"served": "serving_default", "deterministic": "serve_deterministic", "bpda": "serve_bpda"}


class ServedModel:
    """A loaded model: ``name``, ``metadata``, ``is_random``, ``is_differentiable``, ``model_fn``."""

    def __init__(self, path):
        self.path = str(path)
        if self.path.endswith(".keras"):
            self._load_keras()
        else:
            self._load_saved_model()
        self.name = self.metadata.get("name") or os.path.basename(os.path.normpath(self.path))
        self.is_random = bool(self.metadata.get("is_random", False))
        self.is_differentiable = bool(self.metadata.get("is_differentiable", True))

    def _load_saved_model(self):
        from zoo.export import read_metadata
        if not os.path.isdir(self.path):
            raise ZooError(f"--model={self.path}: no such directory (expected exported_models/<name>/<version> "
                           "or a .keras file)")
        self.metadata = read_metadata(self.path)  # one-line error if there is no saved_model.pb
        loaded = tf.saved_model.load(self.path)
        missing = [s for s in _SIGNATURES.values() if s not in loaded.signatures]
        self._loaded = loaded
        self._signatures = {mode: loaded.signatures[name] for mode, name in _SIGNATURES.items()
                            if name in loaded.signatures}
        if "served" not in self._signatures:
            raise ZooError(f"--model={self.path}: the SavedModel has no serving_default signature; "
                           f"it has {', '.join(loaded.signatures) or 'none'}")
        self._missing = missing
        spec = self._signatures["served"].structured_input_signature[1]
        self._input_key = next(iter(spec))
        self.input_shape = tuple(spec[self._input_key].shape[1:])

    def _load_keras(self):
        import keras

        import zoo  # noqa: F401  (registers the zoo layers for deserialisation)
        if not os.path.isfile(self.path):
            raise ZooError(f"--model={self.path}: no such .keras file")
        self._keras = keras.models.load_model(self.path)
        self.metadata = {"name": os.path.splitext(os.path.basename(self.path))[0], **zoo.randomness(self._keras),
                         **getattr(self._keras, "zoo_spec", {})}
        self.input_shape = tuple(self._keras.input_shape[1:])

    def _call(self, x, mode):
        if hasattr(self, "_keras"):
            import zoo
            with zoo.inference_noise(self._keras, mode != "deterministic"), zoo.bpda(self._keras, mode == "bpda"):
                return tf.cast(self._keras(x, training=False), tf.float32)
        signature = self._signatures.get(mode) or self._signatures["served"]
        return signature(**{self._input_key: x})["logits"]

    def keras_model(self):
        """The Keras model (from ``assets.extra/model.keras`` of a zoo export), for hidden-layer metrics."""
        if hasattr(self, "_keras"):
            return self._keras
        import keras

        import zoo  # noqa: F401  (registers the zoo layers)
        from zoo.export import KERAS_FILE
        path = os.path.join(self.path, KERAS_FILE)
        if not os.path.isfile(path):
            raise ZooError(f"--model={self.path}: hidden-layer metrics need {KERAS_FILE} (exports of this project "
                           "have it; re-export older models with zoo.export)")
        self._keras_copy = getattr(self, "_keras_copy", None) or keras.models.load_model(path)
        return self._keras_copy

    def model_fn(self, mode="served", eot=1):
        """``x -> logits`` in the given mode, averaged over ``eot`` stochastic passes."""
        if mode not in MODES:
            raise ZooError(f"model mode {mode!r}: expected one of {', '.join(MODES)}")
        eot = max(1, int(eot))

        def fn(x):
            x = tf.convert_to_tensor(x, tf.float32)
            if eot == 1:
                logits = self._call(x, mode)
            else:
                logits = tf.add_n([self._call(x, mode) for _ in range(eot)]) / float(eot)
            # A masked gradient (rounding, no BPDA) reaches attacks as zeros, not as None: the attack
            # then honestly gets nowhere, which is what the obfuscation checks are there to expose.
            return logits + 0.0 * tf.reduce_sum(x)

        return fn

    def attack_mode(self, bpda=None):
        """The mode whose gradients attacks should follow: BPDA when the model has non-differentiable parts."""
        use_bpda = (not self.is_differentiable) if bpda is None else bool(bpda)
        return "bpda" if use_bpda else "served"

    def predict(self, x, mode="served", batch_size=256):
        """Predicted labels (NumPy), batched."""
        fn = self.model_fn(mode)
        out = [np.argmax(fn(x[i:i + batch_size]).numpy(), axis=1) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros([0], dtype=np.int64)


def load(path):
    """Load a SavedModel version directory or a ``.keras`` file as a ``ServedModel``."""
    return ServedModel(path)


def check_images(x):
    """Images must be float in [0,1] with 4 dimensions; one-line error otherwise."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ZooError(f"images of shape {x.shape}: expected [N, H, W, C]")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ZooError(f"images range from {lo:.3g} to {hi:.3g}: expected pixel values in [0, 1]")
    return x.astype(np.float32)
