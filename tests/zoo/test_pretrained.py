"""Shipped models by name: zoo.list_pretrained / pretrained_dir / load, `python -m eval --model=<name>`, and
`python -m trainers.channel` (an input channel put in front of a trained model's weights)."""
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo
from tests.conftest import ROOT
from zoo.errors import ZooError


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A pretrained root holding one tiny exported model with a card, and one export without a card (made
    once for the module: two exports cost ~10 s; no test writes into the root)."""
    root = tmp_path_factory.mktemp("pretrained")
    keras.utils.set_random_seed(0)
    net = zoo.create("resnet20", num_classes=10, input_shape=(8, 8, 1), width=0.125)
    zoo.export(net, str(root), name="tiny_resnet20", metadata={"metrics": {"test_acc": 0.5}})
    (root / "tiny_resnet20" / "MODEL_CARD.md").write_text("# tiny_resnet20\n")
    zoo.export(net, str(root), name="no_card")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_PRETRAINED_DIR", str(root))
        yield root, net


def test_list_and_load_by_name(shipped):
    root, net = shipped
    assert zoo.list_pretrained() == ["tiny_resnet20"]  # no card: not shipped
    assert zoo.pretrained_dir("tiny_resnet20") == os.path.join(str(root), "tiny_resnet20", "1")
    loaded = zoo.load("tiny_resnet20")
    for a, b in zip(net.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(loaded(x, training=False), net(x, training=False), atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda: zoo.load("resnet20_tiny"), "pretrained model 'resnet20_tiny' is unknown: expected one of tiny_resnet20"),
    (lambda: zoo.pretrained_dir("no_card"), "pretrained model 'no_card' is unknown"),
    (lambda: zoo.pretrained_dir("tiny_resnet20", version=2), "version 2: expected one of 1"),
])
def test_unknown_names_get_one_line_listing_the_names(shipped, call, message):
    with pytest.raises(ZooError) as err:
        call()
    assert message in str(err.value) and "\n" not in str(err.value)


def _run(args, env_root, cwd=ROOT):
    env = {**os.environ, "ZOO_PRETRAINED_DIR": str(env_root), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_eval_resolves_a_shipped_name_and_lists_the_names_for_a_wrong_one(shipped, tmp_path):
    root, _ = shipped
    script = ("import sys; from eval import cli; "
              "print(cli.prepare(['eval', '--model=' + sys.argv[1], '--dataset=digits']).models[0])")
    env = {**os.environ, "ZOO_PRETRAINED_DIR": str(root), "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-c", script, "tiny_resnet20"], capture_output=True, text=True, env=env,
                        cwd=ROOT, timeout=300)  # own process: eval's flags and the trainers' share names
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.strip().splitlines()[-1] == os.path.join(str(root), "tiny_resnet20", "1")
    bad = subprocess.run([sys.executable, "-m", "eval", "--model=tiny_resnet", "--dataset=digits"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert bad.returncode == 2
    assert re.search(r"--model=tiny_resnet: no such directory and no shipped model of that name: expected .* one of "
                     r"tiny_resnet20$", bad.stderr.strip().splitlines()[-1])


def test_channel_wraps_the_trained_weights_and_exports(shipped, tmp_path):
    root, net = shipped
    out = tmp_path / "out"
    done = _run(["trainers.channel", "--base_model=tiny_resnet20", "--channel=gaussian:stddev=0.03",
                 "--dataset=digits", "--num_eval_examples=64", f"--export_dir={out}", "--export_name=g_tiny"], root)
    assert done.returncode == 0, done.stderr[-2000:]
    version_dir = out / "g_tiny" / "1"
    meta = json.loads((version_dir / "assets.extra" / "zoo_metadata.json").read_text())
    assert meta["variant"]["channel"] == "gaussian:stddev=0.03" and meta["is_random"]
    assert meta["training"]["method"] == "channel" and meta["training"]["base_model"] == "tiny_resnet20"
    assert {"test_acc", "test_acc_deterministic", "base_test_acc"} <= set(meta["metrics"])
    assert meta["provenance"]["cpu"] and "tensorflow" in meta["provenance"]
    wrapped = keras.saving.load_model(str(version_dir / "assets.extra" / "model.keras"), compile=False)
    assert len(wrapped.get_weights()) == len(net.get_weights())
    for a, b in zip(net.get_weights(), wrapped.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the base must exist and carry no channel yet; names are listed
    bad = _run(["trainers.channel", "--base_model=nope", "--channel=gaussian", f"--export_dir={out}",
                "--export_name=x"], root)
    assert bad.returncode == 2 and "--base_model=nope: no such directory" in bad.stderr
    assert "tiny_resnet20" in bad.stderr.strip().splitlines()[-1]
