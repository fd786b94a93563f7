"""eval.metrics.channels: Study Table 1's protocol (channels, adaptive C&W L2, images), the transfer
matrix's structure and known values, and BPDA through non-differentiable models and channels."""
import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from eval.attacks.own import STUDY_CW
from eval.metrics import channels as ch
from eval.model import ServedModel
from eval.suites import EvalConfig
from zoo.errors import ZooError
from zoo.layers import ColorDepth, make_channel

SHAPE = (8, 8, 3)
DETERMINISTIC = ("FC", "CD", "SVD")


def _save(path, with_color_depth):
    """Hand-made 2-class linear model on 8x8x3 (fixed weights), optionally behind its own 4-bit ColorDepth."""
    w = np.random.default_rng(0).normal(0.0, 1.0, (int(np.prod(SHAPE)), 2)).astype(np.float32)
    inputs = keras.Input(SHAPE)
    h = ColorDepth(bits=4)(inputs) if with_color_depth else inputs
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(2, use_bias=False, kernel_initializer=keras.initializers.Constant(w))(h)
    keras.Model(inputs, outputs).save(path)
    return ServedModel(str(path))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("channel_models")
    return {"linear": _save(tmp / "linear.keras", False), "cd_linear": _save(tmp / "cd_linear.keras", True)}


@pytest.fixture(scope="module")
def data(models):
    x = np.random.default_rng(1).uniform(0.2, 0.8, (8,) + SHAPE).astype(np.float32)
    y = np.argmax(models["cd_linear"].model_fn("deterministic")(x).numpy(), 1).astype(np.int32)
    return x, y


def test_table1_config_is_the_published_protocol():
    """Study Table 1 caption: FC 30 %, SVD 50 %, CD 4 bits, Gauss 0.03, Laplace 0.03, Uniform 0.04;
    C&W L2 with 100 iterations, 5 binary-search steps, initial c 0.01; 2000 images."""
    assert ch.TABLE1 == {"FC": "fft_compress:fraction=0.7", "CD": "color_depth:bits=4",
                         "SVD": "svd_compress:rank=16", "Gauss": "gaussian:stddev=0.03",
                         "Uniform": "uniform:epsilon=0.04", "Laplace": "laplace:scale=0.03"}
    assert list(ch.TABLE1) == ["FC", "CD", "SVD", "Gauss", "Uniform", "Laplace"]  # the published row order
    assert ch.table1_channels(32, 32) == ch.TABLE1
    assert ch.table1_channels(8, 8)["SVD"] == "svd_compress:rank=4"  # 50 % of the singular values
    assert (ch.TABLE1_CW["max_iterations"], ch.TABLE1_CW["binary_search_steps"], ch.TABLE1_CW["initial_const"]) \
        == (100, 5, 0.01) and ch.TABLE1_CW == STUDY_CW
    assert ch.TABLE1_EXAMPLES == 2000
    assert inspect.signature(ch.transfer_matrix).parameters["attack"].default == "cw_l2"
    assert ch.transfer_params() == STUDY_CW
    assert ch.transfer_params("pgd") == {"eps": 8 / 255, "step_size": 2 / 255, "steps": 20}
    config = EvalConfig(models=("m",))
    assert (config.channel_attack, config.channel_examples) == ("cw_l2", None)  # None: the suite's images
    # the partially adaptive attacker's surrogate is Table 1's Laplace channel
    from eval.attacks import get
    assert ch.TABLE1["Laplace"] == f"laplace:scale={get('partial_adaptive').defaults['b']}"


def test_unknown_transfer_attack_is_one_line():
    with pytest.raises(ZooError) as err:
        ch.transfer_params("fgsm")
    assert "\n" not in str(err.value) and "'fgsm'" in str(err.value) and "cw_l2" in str(err.value)


def test_transfer_matrix_crafts_row_channels_with_table1_cw_and_known_values(models, data, monkeypatch):
    """A recording attack that returns x: every row is crafted through its own channel (rows in
    TABLE1's order, after the clean row "Empty") with C&W and Table 1's settings, and every
    deterministic cell then equals the clean accuracy of model + column channel, computed here
    independently."""
    model = models["linear"]
    x, y = data
    calls = []

    def recording_attack(name, model_fn, xb, yb, **params):
        calls.append((name, model_fn.channel_spec, params))
        return tf.identity(xb)

    monkeypatch.setattr(ch, "run_attack", recording_attack)
    messages = []
    out = ch.transfer_matrix(model, x, y, progress=messages.append)
    channels = ch.table1_channels(8, 8)
    # one progress message per crafted row, before it, naming the row and its place
    assert messages == [f"{model.name}: transfer matrix, crafting through {label} ({i + 1}/{len(channels)})"
                        for i, label in enumerate(channels)]
    assert out["rows"] == ["Empty"] + list(channels) and out["cols"] == list(channels)
    assert [spec for _, spec, _ in calls] == list(channels.values())
    assert all(name == "cw_l2" and params == STUDY_CW for name, _, params in calls)
    det = model.model_fn("deterministic")
    for j, label in enumerate(out["cols"]):
        if label not in DETERMINISTIC:
            continue
        expected = float(np.mean(np.argmax(det(np.clip(make_channel(channels[label])(x).numpy(), 0, 1)).numpy(), 1)
                                 == y))
        assert [row[j] for row in out["values"]] == [expected] * 7, (label, out["values"], expected)
    assert "100 iterations, 5 binary-search steps, c0 0.01" in out["paper"] and "8 images" in out["paper"]


def test_pgd_stays_available(models, data, monkeypatch):
    calls = []
    monkeypatch.setattr(ch, "run_attack", lambda name, fn, xb, yb, **p: calls.append((name, p)) or tf.identity(xb))
    out = ch.transfer_matrix(models["linear"], *data, attack="pgd", params={"steps": 7})
    assert {name for name, _ in calls} == {"pgd"} and calls[0][1] == {"eps": 8 / 255, "step_size": 2 / 255, "steps": 7}
    assert "PGD-7" in out["paper"]


FAST_CW = dict(max_iterations=20, binary_search_steps=3, initial_const=1.0, learning_rate=0.05)


def test_diagonal_is_broken_through_bpda_and_untouched_without(models, data):
    """Model with its own 4-bit ColorDepth, deterministic channels FC / CD / SVD in front.

    C&W reports success only where model + channel A misclassifies, so the diagonal (crafted and
    evaluated through A) is exactly 0 once every image is broken: that needs BPDA through the model's
    rounding (``deterministic_bpda``) and through the CD channel. With BPDA off the gradient is 0, C&W
    never moves and every row equals the clean row."""
    model = models["cd_linear"]
    x, y = data
    assert model.deterministic_mode() == "deterministic_bpda"
    channels = {k: v for k, v in ch.table1_channels(8, 8).items() if k in DETERMINISTIC}
    out = ch.transfer_matrix(model, x, y, channels=channels, params=FAST_CW)
    diagonal = [out["values"][1 + i][i] for i in range(len(channels))]
    assert diagonal == [0.0, 0.0, 0.0], \
        f"diagonal {diagonal}: expected 0 (C&W success is checked through the same channel)"
    assert out["values"][0] == [1.0, 1.0, 1.0]  # clean: labels are the model's predictions, kept by these channels
    masked = ch.transfer_matrix(model, x, y, channels=channels, params=FAST_CW, bpda=False)
    assert all(row == masked["values"][0] for row in masked["values"]), masked["values"]


class _ModeSpy:
    def __init__(self, model):
        self.model, self.modes = model, []

    def __getattr__(self, item):
        return getattr(self.model, item)

    def model_fn(self, mode="served", eot=1, eot_mode="gradient"):
        self.modes.append(mode)
        return self.model.model_fn(mode, eot, eot_mode)


@pytest.mark.parametrize("name,gradient_mode", [("linear", "deterministic"), ("cd_linear", "deterministic_bpda")])
def test_recovery_windows_attack_the_deterministic_model_through_bpda(models, data, name, gradient_mode):
    spy = _ModeSpy(models[name])
    x, y = data
    curves, broken = ch.recovery_windows(spy, x, y, sigmas=(0.0, 0.05), draws=2, params={"steps": 5})
    assert set(spy.modes) == {gradient_mode, "deterministic"}
    for i in range(2):  # frequencies of original / adversarial / other class sum to 1 where anything broke
        total = sum(c["y"][i] for c in curves)
        assert total == pytest.approx(1.0) if broken else total == 0.0
    if broken:  # sigma 0: every kept example is still adversarial
        assert next(c for c in curves if c["series"] == "adversarial class")["y"][0] == 1.0


def test_channels_suite_uses_channel_examples_and_both_partial_adaptive_attacks(models, data):
    from eval.report import Report
    from eval.suites import SUITES, Context
    x, y = data
    report = Report({})
    config = EvalConfig(models=("linear",), suites=("channels",), channel_examples=3, channel_attack="pgd", steps=(3,))
    SUITES["channels"](Context(config, [models["linear"]], x, y, report, progress=lambda *_: None))
    out = report.to_dict()
    matrix = next(m for m in out["matrices"] if m["name"] == "transfer_matrix")
    assert len(matrix["rows"]) == 7 and "PGD-3" in matrix["paper"] and "3 images" in matrix["paper"]
    rows = {r["attack"]: r for r in out["results"]}
    assert set(rows) == {"partial_adaptive", "partial_adaptive_pgd"}
    assert all(r["num_examples"] == 3 and r["suite"] == "channels" for r in rows.values())
