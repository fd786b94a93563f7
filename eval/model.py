"""The model under evaluation, loaded from the served artifact (a SavedModel version directory) or a
``.keras`` file, with what eval needs to know to attack it honestly.

``ServedModel.model_fn(mode, eot, eot_mode)`` returns ``x -> logits`` for attacks and metrics:

* ``mode="served"``: the model as served (``serving_default``: noise on);
* ``mode="deterministic"``: every noise source off (``serve_deterministic``);
* ``mode="bpda"``: forward as served, backward through non-differentiable channels replaced by
  the identity (``serve_bpda``; BPDA, Athalye et al. 2018 sec. 4.1);
* ``mode="deterministic_bpda"``: noise off and BPDA (``serve_deterministic_bpda``), what every
  metric of the deterministic network that needs gradients uses (``deterministic_mode()``);
* ``eot=n``: an ``eval.attacks.EOTModel`` over n stochastic passes (EOT for random models; Athalye
  et al. 2018 sec. 4.3): with ``eot_mode="gradient"`` attacks follow the mean of the per-draw loss
  gradients, with ``"logits"`` the gradient of the loss of the averaged logits.

A missing signature: an export made before ``serve_deterministic_bpda`` existed gets it from
``serve_deterministic`` when the model is differentiable (nothing to pass through), else from its
``assets.extra/model.keras`` run with noise off and BPDA (``zoo.inference_noise``, ``zoo.bpda``);
without that file it is a one-line error. A missing ``serve_deterministic`` falls back to
``serving_default`` only for a model without noise, a missing ``serve_bpda`` only for a
differentiable one (then they are the same function); otherwise a one-line error.

``noise_off()`` is the model with its noise off for prediction and attack alike (PNI Table 2, "test
without PNI"; ``--noise=off|both``): a ``NoiseOff`` view named ``"<name> (noise off)"``.

Randomness and differentiability come from the export metadata (``zoo_metadata.json``), or from the
layers themselves for ``.keras`` files, so the suite applies EOT and BPDA without being told.
"""
import os

import numpy as np
import tensorflow as tf

from eval.attacks.eot import EOTModel
from zoo.errors import ZooError

MODES = ("served", "deterministic", "bpda", "deterministic_bpda")
_SIGNATURES = {"served": "serving_default", "deterministic": "serve_deterministic", "bpda": "serve_bpda",
               "deterministic_bpda": "serve_deterministic_bpda"}
_NOISE_OFF = ("deterministic", "deterministic_bpda")
_BPDA = ("bpda", "deterministic_bpda")


class ServedModel:
    """A loaded model: ``name``, ``metadata``, ``is_random``, ``is_differentiable``, ``model_fn``."""

    noise = "on"  # predictions and attacks as served; ``noise_off()`` gives the view with it off

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
        from zoo.export import check_saved_model
        check_saved_model(self.path)  # one-line error for an empty/truncated saved_model.pb or no variables
        try:
            loaded = tf.saved_model.load(self.path)
        except Exception as err:  # noqa: BLE001 (any load failure is a damaged export, for people one line)
            raise ZooError(f"--model={self.path}: the SavedModel cannot be loaded ({type(err).__name__}: "
                           f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else 'no message'}); "
                           f"it has {', '.join(sorted(os.listdir(self.path)))}; re-export it") from None
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
        import zipfile
        if not zipfile.is_zipfile(self.path):
            raise ZooError(f"--model={self.path}: not a .keras file ({os.path.getsize(self.path)} bytes, not a zip "
                           "archive): expected a file written by model.save(); a damaged or partial copy?")
        try:
            self._keras = keras.models.load_model(self.path)
        except Exception as err:  # noqa: BLE001 (a corrupt file: one line for people)
            raise ZooError(f"--model={self.path}: not a loadable .keras file ({type(err).__name__}: "
                           f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else 'no message'}); "
                           f"expected a zip written by model.save() (size {os.path.getsize(self.path)} bytes)") from None
        self.metadata = {"name": os.path.splitext(os.path.basename(self.path))[0], **zoo.randomness(self._keras),
                         **getattr(self._keras, "zoo_spec", {})}
        self.input_shape = tuple(self._keras.input_shape[1:])

    def _call(self, x, mode):
        if hasattr(self, "_keras"):
            return self._call_keras(self._keras, x, mode)
        signature = self._signatures.get(mode)
        if signature is None:
            return self._fallback(x, mode)
        return signature(**{self._input_key: x})["logits"]

    @staticmethod
    def _call_keras(keras_model, x, mode):
        import zoo
        with zoo.inference_noise(keras_model, mode not in _NOISE_OFF), zoo.bpda(keras_model, mode in _BPDA):
            return tf.cast(keras_model(x, training=False), tf.float32)

    def _fallback(self, x, mode):
        """A signature this export lacks (see the module docstring)."""
        if mode == "deterministic_bpda":
            if self.is_differentiable:  # BPDA changes nothing: serve_deterministic is the same function
                return self._call(x, "deterministic")
            from zoo.export import KERAS_FILE
            if not os.path.isfile(os.path.join(self.path, KERAS_FILE)):
                raise ZooError(f"--model={self.path}: has no serve_deterministic_bpda signature (exported before it "
                               f"existed) and no {KERAS_FILE} to run it from; re-export it with zoo.export")
            return self._call_keras(self.keras_model(), x, mode)
        same = not self.is_random if mode == "deterministic" else self.is_differentiable  # as serving_default
        if not same:
            raise ZooError(f"--model={self.path}: the SavedModel has no {_SIGNATURES[mode]} signature; it has "
                           f"{', '.join(self._loaded.signatures)}")
        return self._signatures["served"](**{self._input_key: x})["logits"]

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

    def model_fn(self, mode="served", eot=1, eot_mode="gradient"):
        """``x -> logits`` in the given mode: an ``EOTModel`` over ``eot`` stochastic passes (``eval.attacks.eot``).

        One object per (mode, eot, eot_mode), cached: attacks key their traced functions on it
        (``eval.attacks.traced``), so batches, trials and attacks reuse one trace instead of retracing.
        """
        if mode not in MODES:
            raise ZooError(f"model mode {mode!r}: expected one of {', '.join(MODES)}")
        key = (mode, max(1, int(eot)), eot_mode)
        cache = self.__dict__.setdefault("_model_fns", {})
        if key not in cache:
            def draw(x):
                x = tf.convert_to_tensor(x, tf.float32)
                # A masked gradient (rounding, no BPDA) reaches attacks as zeros, not as None: the attack
                # then honestly gets nowhere, which is what the obfuscation checks are there to expose.
                return self._call(x, mode) + 0.0 * tf.reduce_sum(x)

            cache[key] = EOTModel(draw, eot, eot_mode)
        return cache[key]

    def _use_bpda(self, bpda):
        return (not self.is_differentiable) if bpda is None else bool(bpda)

    def attack_mode(self, bpda=None):
        """The mode whose gradients attacks should follow: BPDA when the model has non-differentiable parts."""
        return "bpda" if self._use_bpda(bpda) else "served"

    def deterministic_mode(self, bpda=None):
        """Noise off, with BPDA when the model has non-differentiable parts: the mode of every gradient
        metric of the deterministic network (insensitivity, analysis, channels)."""
        return "deterministic_bpda" if self._use_bpda(bpda) else "deterministic"

    def noise_off(self):
        """This model with every noise source off, for prediction and attack alike (``NoiseOff``)."""
        if getattr(self, "_noise_off", None) is None:
            self._noise_off = NoiseOff(self)
        return self._noise_off

    def predict(self, x, mode="served", batch_size=256):
        """Predicted labels (NumPy), batched."""
        fn = self.model_fn(mode)
        out = [np.argmax(fn(x[i:i + batch_size]).numpy(), axis=1) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros([0], dtype=np.int64)


class NoiseOff:
    """A ``ServedModel`` with its noise off for predictions and attacks (PNI Table 2, "test without PNI").

    ``served`` maps to ``deterministic`` and ``bpda`` to ``deterministic_bpda``; the view is not random
    (no EOT, one trial unless asked) and is named ``"<name> (noise off)"``; result rows carry
    ``noise="off"``.
    """

    noise = "off"
    is_random = False
    _MAP = {"served": "deterministic", "bpda": "deterministic_bpda"}

    def __init__(self, model):
        self.model = model

    @property
    def name(self):
        return f"{self.model.name} (noise off)"

    def __getattr__(self, item):  # path, metadata, input_shape, is_differentiable, keras_model, ...
        if item == "model":  # not yet set (copy, unpickling): no recursion
            raise AttributeError(item)
        return getattr(self.model, item)

    def model_fn(self, mode="served", eot=1, eot_mode="gradient"):
        return self.model.model_fn(self._MAP.get(mode, mode), eot, eot_mode)

    def attack_mode(self, bpda=None):
        return self.model.deterministic_mode(bpda)

    def predict(self, x, mode="served", batch_size=256):
        return self.model.predict(x, self._MAP.get(mode, mode), batch_size)

    def noise_off(self):
        return self


def load(path):
    """Load a SavedModel version directory or a ``.keras`` file as a ``ServedModel``."""
    return ServedModel(path)


def check_images(x):
    """Images must be float in [0,1] with 4 dimensions; one-line error otherwise."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ZooError(f"images of shape {x.shape}: expected [N, H, W, C]")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ZooError(f"images of dtype {x.dtype}: expected real pixel values in [0, 1]")
    if x.size and not np.isfinite(x).all():
        bad = int(np.size(x) - np.isfinite(x).sum())
        raise ZooError(f"images contain {bad} NaN or Inf values: expected finite pixel values in [0, 1]")
    if not x.size:
        return x.astype(np.float32)
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ZooError(f"images range from {lo:.3g} to {hi:.3g}: expected pixel values in [0, 1]")
    return x.astype(np.float32)
