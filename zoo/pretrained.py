"""The zoo's shipped models, by name: ``list_pretrained()``, ``pretrained_dir(name)``, ``load(name)``.

A shipped model is ``exported_models/<name>/<version>/`` (a SavedModel with the zoo's four signatures,
committed to git) beside ``exported_models/<name>/MODEL_CARD.md``. Names are looked up in the checkout's
``exported_models/`` unless ``ZOO_PRETRAINED_DIR`` points elsewhere.

    import zoo
    zoo.list_pretrained()                     # ['cd4_resnet20', ..., 'vanilla_resnet20']
    model = zoo.load("vanilla_resnet20")      # the trained keras.Model (noise layers and all)
    path = zoo.pretrained_dir("vanilla_resnet20")   # what TF Serving and `python -m eval --model=` load
"""
import os

from zoo.errors import ZooError

CARD_FILE = "MODEL_CARD.md"
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pretrained_root():
    """The directory holding the shipped models (``$ZOO_PRETRAINED_DIR`` or ``<checkout>/exported_models``)."""
    return os.environ.get("ZOO_PRETRAINED_DIR") or os.path.join(_ROOT, "exported_models")


def _versions(model_dir):
    return sorted(int(d) for d in os.listdir(model_dir)
                  if d.isdigit() and os.path.isfile(os.path.join(model_dir, d, "saved_model.pb")))


def list_pretrained():
    """Names of the shipped models: directories with a model card and at least one SavedModel version."""
    root = pretrained_root()
    if not os.path.isdir(root):
        return []
    return sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n, CARD_FILE))
                  and _versions(os.path.join(root, n)))


def pretrained_dir(name, version=None):
    """The SavedModel version directory of a shipped model (the newest unless ``version`` is given)."""
    names = list_pretrained()
    if not isinstance(name, str) or name not in names:
        raise ZooError(f"pretrained model {name!r} is unknown: expected one of {', '.join(names) or 'none'} "
                       f"(shipped under {pretrained_root()})")
    model_dir = os.path.join(pretrained_root(), name)
    present = _versions(model_dir)
    if version is None:
        version = present[-1]
    if isinstance(version, bool) or not isinstance(version, int) or version not in present:
        raise ZooError(f"pretrained model {name!r} version {version!r}: expected one of "
                       f"{', '.join(map(str, present))}")
    return os.path.join(model_dir, str(version))


def resolve(value):
    """A ``--model`` value: a shipped model's name becomes its version directory; a path stays as it is."""
    if isinstance(value, str) and not os.path.exists(value) and os.sep not in value and value in list_pretrained():
        return pretrained_dir(value)
    return value


def load(name, version=None):
    """The shipped model ``name`` as a ``keras.Model`` (its ``assets.extra/model.keras``), weights trained.

    The model's noise layers behave as in training; serve it with ``zoo.inference_noise(model, True)``
    to predict as the SavedModel's ``serving_default`` does (``zoo.read_metadata`` gives its card data)."""
    import keras

    from zoo import layers  # noqa: F401  (registers the zoo's layers for deserialisation)
    from zoo.export import KERAS_FILE
    path = os.path.join(pretrained_dir(name, version), KERAS_FILE)
    if not os.path.isfile(path):
        raise ZooError(f"pretrained model {name!r}: no {KERAS_FILE} in {os.path.dirname(os.path.dirname(path))}: "
                       "expected an export made by zoo.export")
    return keras.saving.load_model(path, compile=False)
