"""The training adversary sees the model as the official PNI code's ``Attack.pgd`` does (``model.eval()``).

Batch norm reads its moving statistics, every noise source stays as in a training call (PNI eq. 12),
and crafting leaves the moving statistics untouched. ``--attack_bn=train`` keeps the batch-statistics
alternative. Defaults: PGD-7, eps 8/255, step 0.01, random start (Study sec. 3.7; PNI code).
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.trainers.conftest import make_trainer, tiny_config
from trainers.config import TrainConfig
from zoo.noise_control import zoo_layers


def _noisy_trainer(attack_bn="eval", **overrides):
    """PNI-W + RobustNet noise layers (both noise kinds), BN moving statistics set to distinctive values."""
    config = tiny_config("pni", robustnet=True, sigma_init=0.1, sigma_inner=0.05, attack_bn=attack_bn, **overrides)
    trainer = make_trainer(config)
    rng = np.random.default_rng(0)
    for layer in trainer.net._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0.5, 0.3, layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(2.0, 4.0, layer.moving_variance.shape).astype("float32"))
    return trainer


def _bn_stats(net):
    return [v.numpy().copy() for layer in net._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)
            for v in (layer.moving_mean, layer.moving_variance)]


class SameNoise:
    """Replays the same noise draws: every random layer's seed-generator state is reset on ``reset()``."""

    def __init__(self, net):
        self.states = [(layer.seed_generator.state, layer.seed_generator.state.numpy().copy())
                       for layer in zoo_layers(net) if layer.is_random]
        assert len(self.states) > 20  # 19 RobustNet noise layers + 20 PNI layers for ResNet-20

    def reset(self):
        for variable, value in self.states:
            variable.assign(value)


def test_defaults_are_the_papers_training_adversary():
    c = TrainConfig()
    assert (c.eps, c.step_size, c.steps, c.random_start, c.attack_bn) == (8 / 255, 0.01, 7, True, "eval")


def test_eval_mode_attack_reads_moving_statistics_with_the_training_noise_on(digits_batch):
    trainer = _noisy_trainer("eval")
    net, x = trainer.net, digits_batch[0]
    zoo.set_inference_noise(net, False)  # as served deterministically: the attack must still see the noise
    noise = SameNoise(net)
    attack = trainer.attack_fn()(x).numpy()
    assert not any(layer.inference_noise for layer in zoo_layers(net) if layer.is_random)  # switches restored
    noise.reset()
    with zoo.inference_noise(net, True):
        eval_with_noise = net(x, training=False).numpy()
    noise.reset()
    eval_without_noise = net(x, training=False).numpy()
    stats = _bn_stats(net)
    noise.reset()
    batch_stats = net(x, training=True).numpy()  # same noise, batch statistics (updates the moving ones)
    np.testing.assert_allclose(attack, eval_with_noise, rtol=1e-5, atol=1e-5)
    assert np.abs(attack - batch_stats).max() > 0.1  # not the batch-statistics forward
    assert np.abs(attack - eval_without_noise).max() > 0.01  # the noise is on
    assert np.abs(trainer.attack_fn()(x).numpy() - attack).max() > 0.01  # fresh noise on every call
    assert any(np.abs(a - b).max() > 0 for a, b in zip(stats, _bn_stats(net)))  # (a training call does update)


def test_pni_ablation_without_noise_is_the_deterministic_eval_forward(digits_batch):
    trainer = _noisy_trainer("eval")
    x = digits_batch[0]
    a, b = trainer.attack_fn(noise=False)(x).numpy(), trainer.attack_fn(noise=False)(x).numpy()
    np.testing.assert_array_equal(a, b)
    with zoo.inference_noise(trainer.net, False):
        np.testing.assert_allclose(a, trainer.net(x, training=False).numpy(), rtol=1e-5, atol=1e-5)


def test_train_mode_option_uses_batch_statistics(digits_batch):
    trainer = _noisy_trainer("train")
    net, x = trainer.net, digits_batch[0]
    noise = SameNoise(net)
    attack = trainer.attack_fn()(x).numpy()
    noise.reset()
    np.testing.assert_allclose(attack, net(x, training=True).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attack_bn", ["eval", "train"])
def test_crafting_leaves_moving_statistics_unchanged(attack_bn, digits_batch):
    trainer = _noisy_trainer(attack_bn)
    before = _bn_stats(trainer.net)
    x_adv = trainer.pgd(*digits_batch)
    traced = tf.function(lambda x, y: trainer.pgd(x, y))(*digits_batch)
    for a, b in zip(before, _bn_stats(trainer.net)):
        np.testing.assert_array_equal(a, b)
    for adv in (x_adv, traced):
        assert np.abs(adv.numpy() - digits_batch[0].numpy()).max() > 0.5 * trainer.config.eps


def test_the_step_size_is_0_01(digits_batch):
    """One PGD step from x itself (no random start) moves every pixel by exactly +-0.01 or not at all."""
    config = tiny_config("pgd", eps=8 / 255, step_size=TrainConfig.step_size, steps=1, random_start=False)
    trainer = make_trainer(config)
    x = digits_batch[0].numpy()
    delta = trainer.pgd(*digits_batch).numpy() - x
    inside = (x >= 0.01) & (x <= 0.99)
    moved = np.abs(delta[inside])
    assert np.all((np.abs(moved - 0.01) < 1e-6) | (moved == 0)) and (moved > 0).mean() > 0.5
