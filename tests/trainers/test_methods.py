"""Each method's train_step lowers its loss on a fixed batch, and the adversaries stay in their ball."""
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.trainers.conftest import make_trainer, tiny_config
from trainers.config import AnpPhase


@pytest.fixture(scope="module")
def holdout(tmp_path_factory):
    net = zoo.create("lenet5", num_classes=10, input_shape=(8, 8, 1))
    return zoo.export(net, str(tmp_path_factory.mktemp("holdout")), name="holdout")


METHODS = {
    "vanilla": {},
    "pgd": {},
    "pni": {},
    "robustnet": {"adversarial": True, "sigma_init": 0.05, "sigma_inner": 0.02},
    "nat": {},
    "lat": {},
    "anp": {"anp_phases": (AnpPhase(0.5, 0.5, 2, 5),), "epochs": 5},
    "eat": {},
    "paramnet": {"paramnet": 0.1},
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_loss_decreases_on_a_fixed_batch(method, digits_batch, holdout):
    overrides = dict(METHODS[method])
    if method == "eat":
        overrides["eat_holdout"] = (holdout,)
    trainer = make_trainer(tiny_config(method, **overrides))
    x, y = digits_batch
    losses = [trainer.train_on_batch(x, y, return_dict=True)["loss"] for _ in range(25)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


def test_training_adversary_stays_within_eps_and_box(digits_batch):
    for method in ("pgd", "pni"):
        trainer = make_trainer(tiny_config(method, eps=8 / 255, step_size=2 / 255, steps=3))
        x, y = digits_batch
        x_adv = trainer.pgd(x, y).numpy()
        assert np.abs(x_adv - x.numpy()).max() <= 8 / 255 + 1e-6
        assert x_adv.min() >= 0 and x_adv.max() <= 1
        assert np.abs(x_adv - x.numpy()).max() > 4 / 255


def test_attack_leaves_batch_norm_statistics_alone(digits_batch):
    trainer = make_trainer(tiny_config("pni"))
    bn = [v for v in trainer.net.non_trainable_variables if "moving_mean" in v.path][0]
    before = bn.numpy().copy()
    trainer.pgd(*digits_batch)
    np.testing.assert_array_equal(bn.numpy(), before)
    trainer.net(digits_batch[0], training=True)
    assert np.abs(bn.numpy() - before).max() > 0  # a training call does update them


def test_pni_crafts_against_its_own_prediction_not_the_label(digits_batch, monkeypatch):
    trainer = make_trainer(tiny_config("pni"))
    for v in trainer.net.trainable_variables:
        if "alpha" in v.path:
            v.assign(tf.zeros_like(v))  # noise scale 0: the training-mode forward is deterministic
    seen = {}
    original = trainer.pgd

    def spy(x, labels, noise=True):
        seen["labels"], seen["noise"] = labels, noise
        return original(x, labels, noise)

    monkeypatch.setattr(trainer, "pgd", spy)
    x, y = digits_batch
    trainer.objective(x, y)
    predicted = np.argmax(trainer.net(x, training=True).numpy(), axis=1)
    assert seen["noise"] is True
    labels = seen["labels"].numpy()
    np.testing.assert_array_equal(labels, predicted)  # the model's own prediction ...
    assert (labels != y.numpy()).mean() > 0.3  # ... which, untrained, is mostly not the label


def test_weight_decay_is_coupled_and_skips_alpha(digits_batch):
    trainer = make_trainer(tiny_config("pni", weight_decay=0.1))
    names = [v.path for v in trainer.decayed_variables()]
    assert names and not any("alpha" in n for n in names)
    alphas = [v for v in trainer.net.trainable_variables if "alpha" in v.path]
    assert len(alphas) == 20
    with tf.GradientTape() as tape:
        penalty = trainer.l2_penalty()
    grads = tape.gradient(penalty, trainer.decayed_variables() + alphas)
    for v, g in zip(trainer.decayed_variables(), grads):
        np.testing.assert_allclose(g, 0.1 * v.numpy(), rtol=1e-5, atol=1e-8)  # d(0.5 wd |w|^2)/dw = wd w
    assert all(g is None for g in grads[len(names):])
