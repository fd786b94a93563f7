import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.errors import ZooError
from zoo.export import SIGNATURES


@pytest.fixture(scope="module")
def noisy_export(tmp_path_factory):
    """A small PNI-W model with a ColorDepth channel, exported once for the module."""
    keras.utils.set_random_seed(0)  # the same weights whichever tests ran before
    model = zoo.create("resnet20", num_classes=10, input_shape=(16, 16, 3), width=0.25, pni="W",
                       channel="color_depth:bits=5")
    root = tmp_path_factory.mktemp("exported")
    path = zoo.export(model, str(root), name="pni_small", metadata={"training": {"epochs": 0}})
    return model, root, path


def test_layout_metadata_and_versions(noisy_export):
    model, root, path = noisy_export
    assert path == os.path.join(str(root), "pni_small", "1")
    meta = zoo.read_metadata(path)
    assert meta["architecture"] == "resnet20" and meta["variant"]["pni"] == "w"
    assert meta["is_random"] and meta["nondifferentiable_layers"] == ["channel_color_depth"]
    assert meta["training"] == {"epochs": 0} and meta["signatures"] == list(SIGNATURES) == [
        "serving_default", "serve_deterministic", "serve_bpda", "serve_deterministic_bpda"]
    assert os.path.isfile(os.path.join(path, "assets.extra", "model.keras"))
    again = zoo.export(model, str(root), name="pni_small")
    assert again.endswith(os.path.join("pni_small", "2"))
    with pytest.raises(ZooError, match="version 1 already exists.*versions present are 1, 2"):
        zoo.export(model, str(root), name="pni_small", version=1)


def test_saved_model_cli_lists_the_signatures(noisy_export):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    out = subprocess.run([cli, "show", "--all", "--dir", noisy_export[2]], capture_output=True, text=True,
                         check=True).stdout
    for name in ("serving_default", "serve_deterministic", "serve_bpda", "serve_deterministic_bpda"):
        assert f"signature_def['{name}']" in out
    assert "outputs['probabilities']" in out and "inputs['images']" in out


def test_fresh_process_without_the_project_loads_and_runs_it(noisy_export, tmp_path):
    """Plain TensorFlow, no import of zoo: what TF Serving sees."""
    x = np.random.default_rng(0).uniform(size=(3, 16, 16, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np, tensorflow as tf
        m = tf.saved_model.load({noisy_export[2]!r})
        x = tf.constant(np.load({str(tmp_path / 'x.npy')!r}))
        det = [m.signatures["serve_deterministic"](images=x)["logits"].numpy() for _ in range(2)]
        det_bpda = [m.signatures["serve_deterministic_bpda"](images=x)["logits"].numpy() for _ in range(2)]
        served = [m.signatures["serving_default"](images=x) for _ in range(2)]
        noisy = [out["logits"].numpy() for out in served]  # logits: probabilities of an untrained net may saturate
        probabilities = served[0]["probabilities"].numpy()
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(m.signatures["serve_bpda"](images=x)["logits"][:, 0])
        grad = tape.gradient(loss, x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(m.signatures["serve_deterministic_bpda"](images=x)["logits"][:, 0])
        det_grad = tape.gradient(loss, x)
        print(json.dumps({{"det": det[0].tolist(), "det_same": bool((det[0] == det[1]).all()),
                          "det_bpda_same": bool((det_bpda[0] == det_bpda[1]).all()),
                          "det_bpda_diff": float(np.abs(det_bpda[0] - det[0]).max()),
                          "det_grad_abs": float(tf.reduce_sum(tf.abs(det_grad))),
                          "noisy_diff": float(np.abs(noisy[0] - noisy[1]).max()),
                          "prob_sum": probabilities.sum(axis=1).tolist(),
                          "grad_abs": float(tf.reduce_sum(tf.abs(grad))),
                          "zoo_imported": "zoo" in sys.modules}}))
    """)
    env = {**os.environ, "PYTHONPATH": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         cwd=str(tmp_path), check=True)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert not result["zoo_imported"]
    assert result["det_same"] and result["noisy_diff"] > 1e-6
    np.testing.assert_allclose(result["prob_sum"], 1.0, atol=1e-5)
    assert result["grad_abs"] > 0  # gradients flow through the served artifact (BPDA signature)
    assert result["det_bpda_same"] and result["det_grad_abs"] > 0  # noise off and BPDA: deterministic, gradients
    assert result["det_bpda_diff"] < 1e-4  # the forward pass of serve_deterministic (x + (q - x) vs q: rounding)
    model = noisy_export[0]
    with zoo.inference_noise(model, False):
        np.testing.assert_allclose(result["det"], model(x, training=False), atol=1e-4)


def test_gradients_flow_through_the_loaded_signatures(noisy_export):
    loaded = tf.saved_model.load(noisy_export[2])
    x = tf.random.stateless_uniform([2, 16, 16, 3], seed=[1, 1])
    grads = {}
    for name in ("serving_default", "serve_bpda", "serve_deterministic", "serve_deterministic_bpda"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(loaded.signatures[name](images=x)["logits"][:, 0])
        grads[name] = tape.gradient(loss, x)
    assert grads["serving_default"] is None and grads["serve_deterministic"] is None  # rounding hides the gradient ...
    assert float(tf.reduce_max(tf.abs(grads["serve_bpda"]))) > 0  # ... BPDA restores it
    assert float(tf.reduce_max(tf.abs(grads["serve_deterministic_bpda"]))) > 0  # with the noise off too


def test_deterministic_model_export_equals_in_memory_model(tmp_path):
    model = zoo.create("vgg11", input_shape=(16, 16, 3), width=0.125)
    path = zoo.export(model, str(tmp_path), name="plain")
    loaded = tf.saved_model.load(path)
    x = tf.random.stateless_uniform([4, 16, 16, 3], seed=[2, 2])
    for name in ("serving_default", "serve_deterministic", "serve_bpda", "serve_deterministic_bpda"):
        np.testing.assert_allclose(loaded.signatures[name](images=x)["logits"], model(x), atol=1e-5)
    assert zoo.read_metadata(path)["is_random"] is False


def test_interrupted_export_leaves_no_version(tmp_path, monkeypatch):
    model = zoo.create("lenet5", input_shape=(8, 8, 1))

    def crash(self, *args, **kwargs):
        os.makedirs(args[0], exist_ok=True)
        open(os.path.join(args[0], "saved_model.pb"), "w").write("partial")
        raise KeyboardInterrupt("killed mid-write")

    backend_archive = type(keras.export.ExportArchive())  # __new__ returns the backend's subclass
    monkeypatch.setattr(backend_archive, "write_out", crash)
    with pytest.raises(KeyboardInterrupt):
        zoo.export(model, str(tmp_path), name="lenet")
    assert [e for e in os.listdir(tmp_path / "lenet") if e != ".export.lock"] == []  # no "1", no temporary dir


def test_bad_export_inputs(tmp_path):
    model = zoo.create("lenet5", input_shape=(8, 8, 1))
    with pytest.raises(ZooError, match="export name 'a/b'"):
        zoo.export(model, str(tmp_path), name="a/b")
    with pytest.raises(ZooError, match="version 0"):
        zoo.export(model, str(tmp_path), name="ok", version=0)
    with pytest.raises(ZooError, match="is not a SavedModel directory"):
        zoo.read_metadata(str(tmp_path))
