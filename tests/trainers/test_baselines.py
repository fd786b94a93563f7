"""The baselines' defining behaviour, each pinned by a number: NAT's eps draw, EAT's source draw, LAT's
noise, RobustNet Adv.'s adversarial loss, and the training-input noise of ANP's Gaussian baseline."""
import math

import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.trainers.conftest import make_trainer, tiny_config
from trainers.base import TRAINERS, Trainer, xent
from trainers.config import validate
from zoo import adversarial
from zoo.errors import ZooError
from zoo.layers import inject_noise


def test_nat_eps_is_abs_normal_8_255_truncated_at_16_255():
    """ANP: "eps obeyed normal distribution N(0, 8) and truncated to [0, 16]" (pixel units)."""
    trainer = make_trainer(tiny_config("nat"))
    std = 8 / 255
    eps = trainer.sample_eps(200_000).numpy()
    assert eps.shape == (200_000, 1, 1, 1)
    assert eps.min() >= 0 and eps.max() <= 2 * std + 1e-7 and eps.max() > 1.95 * std
    # |X| for X ~ N(0, s^2) truncated to [-2s, 2s]: E|X| = s sqrt(2/pi) (1 - e^-2) / erf(sqrt 2),
    # P(|X| > s) = (erf(sqrt 2) - erf(1/sqrt 2)) / erf(sqrt 2)
    z = math.erf(math.sqrt(2))
    assert eps.mean() == pytest.approx(std * math.sqrt(2 / math.pi) * (1 - math.exp(-2)) / z, rel=0.01)
    assert (eps > std).mean() == pytest.approx((z - math.erf(1 / math.sqrt(2))) / z, abs=0.005)


def test_nat_examples_move_each_image_by_its_own_eps(digits_batch, monkeypatch):
    trainer = make_trainer(tiny_config("nat"))
    x = digits_batch[0]
    eps = tf.reshape(tf.linspace(0.0, 16 / 255, x.shape[0]), [-1, 1, 1, 1])
    monkeypatch.setattr(trainer, "sample_eps", lambda batch: eps)
    delta = np.abs(trainer.adversarial_examples(x).numpy() - x.numpy()).reshape(x.shape[0], -1).max(axis=1)
    np.testing.assert_allclose(delta, eps.numpy().ravel(), atol=1e-6)  # Step-LL: exactly eps_i per example


@pytest.fixture(scope="module")
def holdout(tmp_path_factory):
    net = zoo.create("lenet5", num_classes=10, input_shape=(8, 8, 1))
    return zoo.export(net, str(tmp_path_factory.mktemp("holdout")), name="holdout")


def test_eat_draws_the_source_uniformly_among_the_model_and_the_holdouts(digits_batch, holdout, monkeypatch):
    """Tramer et al. / ANP: per mini-batch, x_adv comes from the model being trained or one of the hold-outs."""
    trainer = make_trainer(tiny_config("eat", eat_holdout=(holdout,)))
    second = zoo.create("lenet5", num_classes=10, input_shape=(8, 8, 1), width=0.5)
    object.__setattr__(trainer, "holdouts", trainer.holdouts + (lambda z: second(z, training=False),))
    x = digits_batch[0][:16]
    eps = tf.fill([16, 1, 1, 1], 0.1)
    monkeypatch.setattr(trainer, "sample_eps", lambda batch: eps)
    sources = trainer.sources()
    assert len(sources) == 3
    expected = [adversarial.step_ll(fn, x, eps).numpy() for fn in sources]
    for i in range(3):
        for j in range(i):
            assert np.abs(expected[i] - expected[j]).max() > 0.05  # the three sources are distinguishable
    counts = [0, 0, 0]
    for _ in range(45):
        x_adv, pick = trainer.adversarial_examples(x, return_source=True)
        np.testing.assert_allclose(x_adv.numpy(), expected[int(pick)], atol=1e-6)
        counts[int(pick)] += 1
    assert min(counts) >= 5, counts  # uniform: 15 expected each


def test_lat_injects_lat_eps_times_the_sign_of_the_previous_batch_gradient(digits_batch, monkeypatch):
    trainer = make_trainer(tiny_config("lat", lat_eps=0.1, anp_layers=2))
    x, y = digits_batch
    (x1, y1), (x2, y2) = (x[:32], y[:32]), (x[32:], y[32:])
    regs = trainer.registers
    zeros = [tf.zeros([32, *r.output.shape[1:]]) for r in regs]
    with tf.GradientTape() as tape:  # dL/dz_m of batch 1 at the weights before the step, no noise yet
        tape.watch(zeros)
        with inject_noise({r.name: z for r, z in zip(regs, zeros)}):
            loss = xent(y1, trainer.net(x1, training=True))
    expected = [tf.reduce_mean(g, axis=0, keepdims=True).numpy() for g in tape.gradient(loss, zeros)]

    seen = []
    original = trainer.register_step

    def spy(x_, y_, registers, noise):
        seen.append([n.numpy() for n in noise])
        return original(x_, y_, registers, noise)

    monkeypatch.setattr(trainer, "register_step", spy)
    trainer.train_step((x1, y1))
    stored = [v.numpy() for v in trainer.previous]
    for s, e in zip(stored, expected):
        np.testing.assert_allclose(s, e, rtol=1e-4, atol=1e-8)
    trainer.train_step((x2, y2))
    assert all(np.all(n == 0) for n in seen[0])  # first batch: no previous gradient
    for n, s in zip(seen[1], stored):
        assert n.shape[0] == 32
        np.testing.assert_array_equal(n, np.broadcast_to(0.1 * np.sign(s), n.shape))
        assert (np.abs(n) == np.float32(0.1)).mean() > 0.5


@pytest.mark.parametrize("adversarial_flag", [True, False])
def test_robustnet_adv_trains_on_pgd_examples_of_the_true_labels(adversarial_flag, digits_batch, monkeypatch):
    config = tiny_config("robustnet", adversarial=adversarial_flag, sigma_init=0.1, sigma_inner=0.1,
                         eps=8 / 255, step_size=0.01, steps=2)
    trainer = make_trainer(config)
    noise = [l for l in trainer.net._flatten_layers() if isinstance(l, zoo.layers.GaussianNoiseLayer)]
    assert len(noise) == 19 and {n.stddev for n in noise} == {0.1}
    x, y = digits_batch
    calls = []
    original = trainer.pgd

    def spy(x_, labels, noise=True):
        x_adv = original(x_, labels, noise)
        calls.append((labels.numpy(), noise, x_adv.numpy()))
        return x_adv

    monkeypatch.setattr(trainer, "pgd", spy)
    with zoo.no_noise(trainer.net), tf.GradientTape() as tape, trainer.recording(tape):
        loss, _, adv_logits = trainer.objective(x, y)  # noise off only to compare losses exactly
        if not adversarial_flag:
            assert not calls and adv_logits is None
            np.testing.assert_allclose(loss, xent(y, trainer.net(x, training=True)), rtol=1e-5)
            return
        labels, with_noise, x_adv = calls[0]
        np.testing.assert_array_equal(labels, y.numpy())  # Madry: the true labels
        assert with_noise is True and len(calls) == 1
        delta = np.abs(x_adv - x.numpy())
        assert delta.max() <= 8 / 255 + 1e-6 and delta.max() > 0.01
        np.testing.assert_allclose(loss, xent(y, trainer.net(x_adv, training=True)), rtol=1e-5)  # adv_ratio 1


def test_training_input_noise_is_gaussian_in_pixel_scale(digits_batch, monkeypatch):
    """ANP's "trained with Gaussian noise N(0, 0.1) added to input": x + N(0, 0.1^2) in training only."""
    seen = []
    original = Trainer.objective

    def spy(self, x, y):
        seen.append(x.numpy())
        return original(self, x, y)

    monkeypatch.setattr(Trainer, "objective", spy)
    x, y = digits_batch
    for sigma in (0.1, 0.0):
        trainer = make_trainer(tiny_config("vanilla", train_input_noise=sigma))
        with tf.GradientTape() as tape, trainer.recording(tape):
            trainer.objective(x, y)
        delta = seen[-1] - x.numpy()
        if sigma:
            assert delta.std() == pytest.approx(0.1, rel=0.05) and abs(delta.mean()) < 0.005
        else:
            assert np.all(delta == 0)
    with pytest.raises(ZooError, match="--train_input_noise=0.1: expected 0 for method pgd"):
        validate(tiny_config("pgd", train_input_noise=0.1), zoo.list_models(), TRAINERS)
