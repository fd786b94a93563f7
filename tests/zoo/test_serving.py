"""The TF Serving bundle (issue 10, item 4): warm-up requests in every export, one command for models.config and
batching.config, and the REST / gRPC requests of BUILD.md section 6 answered by the loaded signatures in a
process that does not import this project."""
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import serving_config
from zoo.errors import ZooError
from zoo.export import SIGNATURES, WARMUP_FILE

try:
    from tensorflow_serving.apis import prediction_log_pb2
    from tensorflow_serving.config import model_server_config_pb2
    HAVE_TFS = True
except ImportError:  # installed by `make` with --no-deps (it declares `tensorflow`, which would clash
    HAVE_TFS = False  # with tensorflow-cpu); without it the protos cannot be checked here
needs_tfs = pytest.mark.skipif(not HAVE_TFS, reason="tensorflow-serving-api not installed (the Makefile installs it "
                               "with pip --no-deps: its metadata requires the full `tensorflow` package)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    model = zoo.create("lenet5", input_shape=(8, 8, 1), num_classes=7)
    first = zoo.export(model, str(root), name="digits_a")
    zoo.export(model, str(root), name="digits_a")
    zoo.export(model, str(root), name="digits_b")
    os.makedirs(root / "digits_c" / ".tmp-1-1-x")  # nothing servable: left out
    return root, first


def test_every_export_carries_one_warmup_request_per_signature(exported):
    _, path = exported
    records = [r.numpy() for r in tf.data.TFRecordDataset(os.path.join(path, WARMUP_FILE))]
    assert len(records) == len(SIGNATURES) == 4
    if HAVE_TFS:
        logs = [prediction_log_pb2.PredictionLog.FromString(r) for r in records]
        assert [log.predict_log.request.model_spec.signature_name for log in logs] == list(SIGNATURES)
        assert {log.predict_log.request.model_spec.name for log in logs} == {"digits_a"}
        x = tf.make_ndarray(logs[0].predict_log.request.inputs["images"])
        assert x.shape == (1, 8, 8, 1) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1


@needs_tfs
def test_the_fallback_encoder_writes_the_bytes_the_protos_write():
    from zoo.export import _encode_prediction_log, _warmup_record
    tensor = tf.make_tensor_proto(np.full([1, 8, 8, 1], 0.5, np.float32))
    for signature in SIGNATURES:
        assert _encode_prediction_log("m", signature, "images", tensor.SerializeToString()) == \
            _warmup_record("m", signature, (8, 8, 1))


def test_serving_config_lists_every_servable_model(exported, tmp_path):
    root, _ = exported
    (config_path, batching_path), models = serving_config.write(str(root), base_path="/models", max_batch_size=32)
    assert models == {"digits_a": [1, 2], "digits_b": [1]}
    text = open(config_path).read()
    if HAVE_TFS:
        from google.protobuf import text_format
        parsed = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
        assert [(c.name, c.base_path, c.model_platform) for c in parsed.model_config_list.config] == [
            ("digits_a", "/models/digits_a", "tensorflow"), ("digits_b", "/models/digits_b", "tensorflow")]
    batching = open(batching_path).read()
    values = dict(re.findall(r"(\w+) \{ value: (\d+) \}", batching))
    assert values["max_batch_size"] == "32" and set(values) == {
        "max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads"}
    with pytest.raises(ZooError, match="no model with a complete version"):
        serving_config.write(str(tmp_path))
    with pytest.raises(ZooError, match="--models_dir=.*: no such directory"):
        serving_config.write(str(tmp_path / "missing"))


@needs_tfs
def test_documented_rest_and_grpc_requests_are_answered_without_project_code(exported, tmp_path):
    """The requests of BUILD.md section 6, built with the TF Serving protos (gRPC) and as JSON (REST), fed to the
    loaded signatures the way the server feeds them (input key `images`), in a process without zoo/eval."""
    _, path = exported
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np, tensorflow as tf
        from tensorflow_serving.apis import model_pb2, predict_pb2
        m = tf.saved_model.load({path!r})
        out = {{}}
        x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype("float32")
        for name in {list(SIGNATURES)!r}:
            request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name="digits_a", signature_name=name))
            request.inputs["images"].CopyFrom(tf.make_tensor_proto(x))
            request = predict_pb2.PredictRequest.FromString(request.SerializeToString())  # over the wire
            fn = m.signatures[request.model_spec.signature_name]
            result = fn(**{{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}})
            response = predict_pb2.PredictResponse()
            for k, v in result.items():
                response.outputs[k].CopyFrom(tf.make_tensor_proto(v.numpy()))
            grpc = {{k: list(tf.make_ndarray(v).shape) for k, v in response.outputs.items()}}
            body = json.loads(json.dumps({{"signature_name": name, "instances": x.tolist()}}))  # REST predict
            rest = m.signatures[body["signature_name"]](images=tf.constant(body["instances"], tf.float32))
            predictions = [{{k: v[i].numpy().tolist() for k, v in rest.items()}} for i in range(len(x))]
            out[name] = {{"grpc": grpc, "rest_keys": sorted(predictions[0]), "rest_len": len(predictions),
                          "rest_classes": len(predictions[0]["probabilities"]),
                          "prob_sum": float(np.sum(predictions[0]["probabilities"]))}}
        out["project_imported"] = any(k in sys.modules for k in ("zoo", "eval", "trainers"))
        print(json.dumps(out))
    """)
    env = {**os.environ, "PYTHONPATH": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert not out.pop("project_imported")
    for name in SIGNATURES:
        assert out[name]["grpc"] == {"logits": [3, 7], "probabilities": [3, 7]}, name
        assert out[name]["rest_keys"] == ["logits", "probabilities"] and out[name]["rest_len"] == 3
        assert out[name]["rest_classes"] == 7 and out[name]["prob_sum"] == pytest.approx(1.0, abs=1e-5)
