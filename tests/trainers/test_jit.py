"""--jit_compile=auto: both ways timed, the faster kept, the training state untouched, the choice cached."""
import dataclasses
import json
import re

import numpy as np
import pytest
import tensorflow as tf

import zoo
from trainers import jit
from trainers.base import TRAINERS
from trainers.config import validate
from zoo.errors import ZooError

from .conftest import make_trainer, tiny_config


@pytest.mark.parametrize("value, mode", [("auto", "auto"), ("AUTO", "auto"), ("on", True), (True, True),
                                         ("false", False), (False, False), ("0", False)])
def test_parse_mode(value, mode):
    assert jit.parse_mode(value) is mode if isinstance(mode, bool) else jit.parse_mode(value) == mode


def test_bad_mode_is_a_one_line_usage_error():
    config = tiny_config("vanilla", jit_compile="maybe")
    with pytest.raises(ZooError, match=re.escape("--jit_compile=maybe: expected one of auto, on, off")):
        validate(config, zoo.list_models(), TRAINERS)


def _state(trainer):
    return [v.numpy().copy() for v in list(trainer.variables) + list(trainer.optimizer.variables)]


def test_auto_measures_both_restores_the_state_and_caches(tmp_path, monkeypatch, digits_batch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config = tiny_config("pgd", model="lenet5", width=1.0, jit_compile="auto", adv_start_epoch=1)
    trainer = make_trainer(config)
    first_phase = trainer.phase  # clean epoch 0; the timing runs the adversarial step of the last epoch
    x, y = digits_batch
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    trainer.optimizer.build(trainer.trainable_variables)
    before = _state(trainer)
    lines = []
    decision = jit.choose(trainer, config, dataset, steps_in_run=10_000, log=lines.append)

    rates = decision["images_per_s"]
    assert set(rates) == {"xla", "no_xla"} and all(r > 0 for r in rates.values())
    assert decision["jit_compile"] is (rates["xla"] > rates["no_xla"])  # the faster one, whichever it is here
    assert trainer.jit_compile is decision["jit_compile"] and trainer.phase == first_phase
    for a, b in zip(before, _state(trainer)):  # 6 timed steps left no trace: weights, momenta, iterations
        np.testing.assert_array_equal(a, b)
    assert len(lines) == 1 and lines[0].startswith(f"jit_compile={decision['jit_compile']}: auto: XLA ")

    cached = json.loads((tmp_path / "robustness_zoo" / "jit.json").read_text())
    assert list(cached.values())[0]["jit_compile"] is decision["jit_compile"]
    again = jit.choose(make_trainer(config), config, dataset, steps_in_run=10_000, log=lines.append)
    assert again["jit_compile"] is decision["jit_compile"] and "cached measurement" in again["why"]
    other = dataclasses.replace(config, batch_size=16)  # another step shape: not the cached one
    assert jit.cache_key(other, (8, 8, 1)) != jit.cache_key(config, (8, 8, 1))


def test_explicit_and_short_runs_do_not_measure(tmp_path, monkeypatch, digits_batch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    x, y = digits_batch
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    short = tiny_config("vanilla", jit_compile="auto")
    decision = jit.choose(make_trainer(short), short, dataset, steps_in_run=8, log=lambda m: None)
    assert decision == {"jit_compile": False, "why": "auto: a run of 8 steps (< 200) cannot repay the measurement"}
    forced = tiny_config("vanilla", jit_compile="on")
    trainer = make_trainer(forced)
    assert jit.choose(trainer, forced, dataset, steps_in_run=10_000, log=lambda m: None) == \
        {"jit_compile": True, "why": "--jit_compile=on"}
    assert trainer.jit_compile is True
    distributed = tiny_config("vanilla", jit_compile="auto", strategy="mirrored")
    assert jit.choose(make_trainer(distributed), distributed, dataset, steps_in_run=10_000,
                      log=lambda m: None)["why"].startswith("auto: not measured under --strategy=mirrored")
    assert not (tmp_path / "robustness_zoo").exists()
