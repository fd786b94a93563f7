"""The ParamNet trainer (perturbation study sec. 3.6): clean training of fixed-scale weight noise."""
import numpy as np
import pytest
import tensorflow as tf

from tests.trainers.conftest import make_trainer, tiny_config
from trainers.base import Trainer
from trainers.methods.paramnet import DEFAULT_SIGMA
from zoo.layers import ParamNoiseConv2D, ParamNoiseDense


def _noise_layers(trainer):
    return [l for l in trainer.net._flatten_layers() if isinstance(l, (ParamNoiseConv2D, ParamNoiseDense))]


@pytest.mark.parametrize("sigma, expected", [(0.0, DEFAULT_SIGMA), (0.1, 0.1)])
def test_paramnet_method_builds_its_variant(sigma, expected):
    layers = _noise_layers(make_trainer(tiny_config("paramnet", paramnet=sigma)))
    assert len(layers) == 20 and {l.sigma for l in layers} == {expected}


def test_trains_without_adversarial_examples(digits_batch, monkeypatch):
    def no_attack(*args, **kwargs):
        raise AssertionError("ParamNet is trained without adversarial examples")

    monkeypatch.setattr(Trainer, "craft", no_attack)
    monkeypatch.setattr(Trainer, "pgd", no_attack)
    trainer = make_trainer(tiny_config("paramnet", paramnet=0.1))
    assert trainer.adv_acc is None and not trainer.phase
    before = [v.numpy().copy() for v in trainer.net.trainable_variables]
    logs = trainer.train_on_batch(*digits_batch, return_dict=True)
    assert np.isfinite(logs["loss"]) and set(logs) == {"loss", "clean_acc"}
    assert all(np.abs(a - v.numpy()).max() > 0 for a, v in zip(before, trainer.net.trainable_variables))


@pytest.mark.parametrize("train_noise", [True, False])
def test_noise_in_training_follows_the_switch(train_noise, digits_batch):
    """Fig. 5 left: noise in training and inference, or at inference only."""
    trainer = make_trainer(tiny_config("paramnet", paramnet=0.3, paramnet_train_noise=train_noise))
    x, y = digits_batch
    with tf.GradientTape() as tape, trainer.recording(tape):
        a = trainer.objective(x, y)[1].numpy()
        b = trainer.objective(x, y)[1].numpy()
    assert (np.abs(a - b).max() > 1e-3) == train_noise
    inference = [trainer.net(x, training=False).numpy() for _ in range(2)]
    assert np.abs(inference[0] - inference[1]).max() > 1e-3  # noise at inference either way
