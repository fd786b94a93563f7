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

Every signature checks its input inside the graph, so TF Serving answers a bad request with an
``InvalidArgumentError`` that names the problem instead of a silent answer: the shape must be
[N, H, W, C] as exported, the values finite, and for ``serving_default`` within [0, 1] up to a margin of
``RANGE_MARGIN`` (0.25: a 0-255 or a mean/std-normalised image is refused, an attack's finite-difference
probe a little off the cube, such as SPSA's unclipped x +/- delta, is not). The other signatures check
shape and finiteness only: eval's boundary-distance metric probes the deterministic network far outside
the image cube on purpose.

Metadata (architecture, variant, randomness, training flags, metrics) is written as JSON to
``assets.extra/zoo_metadata.json``; ``assets.extra/tf_serving_warmup_requests`` holds one
``PredictionLog`` warm-up request per signature (TF Serving replays it at load, so the first client
request does not pay for graph optimisation). The version directory is written under a temporary
name and renamed into place only when complete, so an interrupted export never leaves a partial
version. Exports into one model directory take an ``fcntl`` lock on ``<name>/.export.lock`` for the
whole write: concurrent exports get consecutive versions, and temporary directories left by killed
exports are removed by the next export. A model whose weights are not all finite is not exported.
"""
import contextlib
import datetime
import fcntl
import json
import os
import re
import shutil
import uuid

import keras
import numpy as np
import tensorflow as tf

from zoo.errors import ZooError
from zoo.noise_control import bpda, inference_noise, randomness

METADATA_FILE = os.path.join("assets.extra", "zoo_metadata.json")
KERAS_FILE = os.path.join("assets.extra", "model.keras")
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
LOCK_FILE = ".export.lock"
RANGE_MARGIN = 0.25  # serving_default refuses values outside [-0.25, 1.25]: 0-255 or mean/std-normalised images
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


def _checked_input(images, image_shape, in_unit_range):
    """``images`` after in-graph checks of shape, finiteness and (optionally) the [0, 1] range."""
    h, w, c = image_shape
    checks = [tf.debugging.assert_equal(
        tf.shape(images)[1:], tf.constant([h, w, c], tf.int32),
        message=f"images: expected shape [N, {h}, {w}, {c}] (float32 pixels in [0, 1]); got [N, H, W, C] =")]
    images = tf.debugging.assert_all_finite(images, "images contain NaN or Inf: expected finite pixel values in [0, 1]")
    if in_unit_range:  # a margin for attacks' finite-difference probes (SPSA evaluates x +/- delta unclipped)
        lo, hi = -RANGE_MARGIN, 1.0 + RANGE_MARGIN
        checks += [tf.debugging.assert_greater_equal(images, lo, message=f"images: expected pixel values in [0, 1]; "
                                                     f"found values below {lo} (first values shown)"),
                   tf.debugging.assert_less_equal(images, hi, message=f"images: expected pixel values in [0, 1] "
                                                  f"(divide 0-255 images by 255); found values above {hi}")]
    with tf.control_dependencies(checks):
        return tf.identity(images)


def _warmup_record(name, signature, image_shape):
    """One serialized ``tensorflow.serving.PredictionLog`` holding a PredictRequest of one mid-gray image."""
    tensor = tf.make_tensor_proto(np.full([1, *image_shape], 0.5, np.float32))
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError:  # the optional package is absent: the same bytes, encoded here (wire format)
        return _encode_prediction_log(name, signature, "images", tensor.SerializeToString())
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=name, signature_name=signature))
    request.inputs["images"].CopyFrom(tensor)
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    return log.SerializeToString()


def _field(number, payload):
    """A length-delimited protobuf field (wire type 2)."""
    def varint(n):
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _encode_prediction_log(name, signature, key, tensor_bytes):
    """PredictionLog{predict_log(6): PredictLog{request(1): PredictRequest{model_spec(1): ModelSpec{name(1),
    signature_name(3)}, inputs(2): map entry{key(1), value(2)}}}} (tensorflow_serving/apis/*.proto)."""
    spec = _field(1, name.encode()) + _field(3, signature.encode())
    request = _field(1, spec) + _field(2, _field(1, key.encode()) + _field(2, tensor_bytes))
    return _field(6, _field(1, request))


def _write_warmup(path, name, image_shape):
    with tf.io.TFRecordWriter(path) as writer:
        for signature in SIGNATURES:
            writer.write(_warmup_record(name, signature, image_shape))


@contextlib.contextmanager
def _locked(model_dir):
    """Hold an exclusive ``fcntl`` lock on ``<model_dir>/.export.lock``; remove stale temporary versions."""
    with open(os.path.join(model_dir, LOCK_FILE), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for entry in os.listdir(model_dir):  # under the lock nobody else is writing: any .tmp-* is stale
                if entry.startswith(".tmp-"):
                    shutil.rmtree(os.path.join(model_dir, entry), ignore_errors=True)
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def check_saved_model(version_dir):
    """One-line ZooError unless ``version_dir`` holds a parseable saved_model.pb and its variables."""
    from tensorflow.core.protobuf import saved_model_pb2
    pb = os.path.join(version_dir, "saved_model.pb")
    listing = ", ".join(sorted(os.listdir(version_dir))) if os.path.isdir(version_dir) else "nothing"
    if not os.path.isfile(pb):
        raise ZooError(f"{version_dir!r} is not a SavedModel directory: no saved_model.pb in it (it has {listing})")
    size = os.path.getsize(pb)
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(open(pb, "rb").read())
        ok = len(proto.meta_graphs) > 0
    except Exception:  # noqa: BLE001 (protobuf's DecodeError and friends)
        ok = False
    if not ok:
        raise ZooError(f"{pb}: a damaged saved_model.pb ({size} bytes, no meta graph can be read): expected a "
                       "complete SavedModel; re-export it")
    index = os.path.join(version_dir, "variables", "variables.index")
    if not os.path.isfile(index):
        raise ZooError(f"{version_dir}: no variables/variables.index: expected a complete SavedModel "
                       f"(saved_model.pb and variables/); it has {listing}; re-export it")
    return version_dir


def export(model, export_dir="exported_models", name=None, version=None, metadata=None):
    """Write ``model`` as a SavedModel version atomically; returns the version directory path."""
    name = name or model.name
    if not isinstance(name, str) or not _NAME.match(name):
        raise ZooError(f"export name {name!r}: expected letters, digits, '_', '-' or '.' only")
    if version is not None and (isinstance(version, bool) or not isinstance(version, (int, np.integer))
                                or version < 1):
        raise ZooError(f"export version {version!r}: expected an integer >= 1")
    bad = [v.path for v in model.weights if not np.isfinite(np.asarray(v.numpy(), np.float64)).all()]
    if bad:
        raise ZooError(f"model {name!r} has {len(bad)} weights with NaN or Inf (first: {bad[0]}): expected finite "
                       "weights; nothing was exported")
    model_dir = os.path.join(export_dir, name)
    try:
        os.makedirs(model_dir, exist_ok=True)
    except OSError as err:
        raise ZooError(f"export directory {model_dir!r}: cannot be created ({err.strerror}): expected a writable "
                       "directory path") from None
    image_shape = tuple(int(d) for d in model.input_shape[1:])
    spec = tf.TensorSpec([None, *image_shape], tf.float32, name="images")

    def serving_default(images):
        images = _checked_input(images, image_shape, in_unit_range=True)
        with inference_noise(model, True):
            return _outputs(model(images, training=False))

    def serve_deterministic(images):
        images = _checked_input(images, image_shape, in_unit_range=False)
        with inference_noise(model, False):
            return _outputs(model(images, training=False))

    def serve_bpda(images):
        images = _checked_input(images, image_shape, in_unit_range=False)
        with inference_noise(model, True), bpda(model):
            return _outputs(model(images, training=False))

    def serve_deterministic_bpda(images):
        images = _checked_input(images, image_shape, in_unit_range=False)
        with inference_noise(model, False), bpda(model):
            return _outputs(model(images, training=False))

    archive = keras.export.ExportArchive()
    archive.track(model)
    for fn in (serving_default, serve_deterministic, serve_bpda, serve_deterministic_bpda):
        archive.add_endpoint(fn.__name__, fn, input_signature=[spec])

    with inference_noise(model, True):
        random_info = randomness(model)

    with _locked(model_dir):  # version choice, write and rename: one export at a time per model
        present = versions(model_dir)
        version = int(version) if version is not None else ((present[-1] + 1) if present else 1)
        final = os.path.join(model_dir, str(version))
        if os.path.exists(final):
            raise ZooError(f"export version {version} already exists in {model_dir}: versions present are "
                           f"{', '.join(map(str, present))}")
        info = {
            "name": name,
            "version": version,
            "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "signatures": list(SIGNATURES),
            "input": {"name": "images", "shape": [None, *image_shape], "dtype": "float32", "range": [0, 1]},
            **random_info,
            **getattr(model, "zoo_spec", {"architecture": model.name}),
            **(metadata or {}),
        }
        tmp = os.path.join(model_dir, f".tmp-{version}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            archive.write_out(tmp, verbose=False)
            os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
            with open(os.path.join(tmp, METADATA_FILE), "w") as f:
                json.dump(_jsonable(info), f, indent=2, sort_keys=True)
            _write_warmup(os.path.join(tmp, WARMUP_FILE), name, image_shape)
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
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as err:
        raise ZooError(f"{path}: unreadable metadata ({err}): expected the JSON object zoo.export writes") from None
    if not isinstance(meta, dict):
        raise ZooError(f"{path}: metadata is a {type(meta).__name__}: expected the JSON object zoo.export writes")
    return meta
