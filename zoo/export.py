"""SavedModel export in TF Serving's layout: ``<export_dir>/<name>/<integer version>/``.

Signatures (all take float32 ``images`` [N, H, W, C] in [0, 1], return ``logits`` and ``probabilities``):

* ``serving_default``: the defended model as trained, every noise source active (PNI Table 2, "test
  with PNI"; RobustNet);
* ``serve_deterministic``: every noise source off ("test without PNI");
* ``serve_bpda``: as ``serving_default`` but non-differentiable input channels pass the gradient
  through unchanged (BPDA, Athalye et al. 2018), for the eval suite's adaptive attacks;
* ``serve_deterministic_bpda``: noise off (as ``serve_deterministic``) and BPDA (as ``serve_bpda``),
  for attacks on and gradient metrics of the deterministic network ("test without PNI" attacked
  adaptively; eval's insensitivity, analysis and channel suites). Exports made before it existed
  lack it: ``eval.model`` then documents its fallback.

Metadata (architecture, variant, randomness, training flags, metrics) is written as JSON to
``assets.extra/zoo_metadata.json``. The version directory is written under a temporary name and
renamed into place only when complete, so an interrupted export never leaves a partial version.
"""
import datetime
import json
import os
import re
import shutil
import uuid

import keras
import tensorflow as tf

from zoo.errors import ZooError
from zoo.noise_control import bpda, inference_noise, randomness

METADATA_FILE = os.path.join("assets.extra", "zoo_metadata.json")
KERAS_FILE = os.path.join("assets.extra", "model.keras")
SIGNATURES = ("serving_default", "serve_deterministic", "serve_bpda", "serve_deterministic_bpda")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def versions(model_dir):
    """Integer versions present in ``model_dir`` (what TF Serving would load), sorted."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir) if d.isdigit())


def _outputs(logits):
    logits = tf.cast(logits, tf.float32)
    return {"logits": logits, "probabilities": tf.nn.softmax(logits)}


def _jsonable(value):
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def export(model, export_dir="exported_models", name=None, version=None, metadata=None):
    """Write ``model`` as a SavedModel version atomically; returns the version directory path."""
    name = name or model.name
    if not _NAME.match(name):
        raise ZooError(f"export name {name!r}: expected letters, digits, '_', '-' or '.' only")
    model_dir = os.path.join(export_dir, name)
    present = versions(model_dir)
    if version is None:
        version = (present[-1] + 1) if present else 1
    if int(version) != version or version < 1:
        raise ZooError(f"export version {version!r}: expected an integer >= 1")
    final = os.path.join(model_dir, str(int(version)))
    if os.path.exists(final):
        raise ZooError(f"export version {version} already exists in {model_dir}: versions present are "
                       f"{', '.join(map(str, present))}")
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="images")

    def serving_default(images):
        with inference_noise(model, True):
            return _outputs(model(images, training=False))

    def serve_deterministic(images):
        with inference_noise(model, False):
            return _outputs(model(images, training=False))

    def serve_bpda(images):
        with inference_noise(model, True), bpda(model):
            return _outputs(model(images, training=False))

    def serve_deterministic_bpda(images):
        with inference_noise(model, False), bpda(model):
            return _outputs(model(images, training=False))

    archive = keras.export.ExportArchive()
    archive.track(model)
    for fn in (serving_default, serve_deterministic, serve_bpda, serve_deterministic_bpda):
        archive.add_endpoint(fn.__name__, fn, input_signature=[spec])

    with inference_noise(model, True):
        random_info = randomness(model)
    info = {
        "name": name,
        "version": int(version),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "signatures": list(SIGNATURES),
        "input": {"name": "images", "shape": [None, *model.input_shape[1:]], "dtype": "float32", "range": [0, 1]},
        **random_info,
        **getattr(model, "zoo_spec", {"architecture": model.name}),
        **(metadata or {}),
    }

    os.makedirs(model_dir, exist_ok=True)
    tmp = os.path.join(model_dir, f".tmp-{version}-{uuid.uuid4().hex[:8]}")
    try:
        archive.write_out(tmp, verbose=False)
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp, METADATA_FILE), "w") as f:
            json.dump(_jsonable(info), f, indent=2, sort_keys=True)
        model.save(os.path.join(tmp, KERAS_FILE))
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_metadata(version_dir):
    """The metadata JSON of an exported version; one-line error if the directory is no zoo export."""
    if not os.path.isfile(os.path.join(version_dir, "saved_model.pb")):
        raise ZooError(f"{version_dir!r} is not a SavedModel directory: no saved_model.pb in it")
    path = os.path.join(version_dir, METADATA_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)
