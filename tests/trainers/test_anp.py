"""ANP Algorithm 1: the register update, its gradient, per-batch reset, k updates, phase schedule."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.trainers.conftest import make_trainer, tiny_config
from trainers import run
from trainers.methods.anp import anp_phase, anp_update
from trainers.base import xent
from trainers.config import AnpPhase
from zoo.layers import inject_noise


def test_register_update_matches_a_hand_computed_example():
    """r <- (1 - eta) r + (eps / k) g / ||g||_2 (ANP eq. 2), per example."""
    r = tf.constant([[1.0, 2.0], [0.0, -1.0]])
    g = tf.constant([[3.0, 4.0], [0.0, 2.0]])  # per-example norms 5 and 2
    out = anp_update(r, g, eta=0.5, eps=1.0, k=2)
    # example 1: 0.5*[1,2] + 0.5*[0.6,0.8] = [0.8, 1.4]; example 2: 0.5*[0,-1] + 0.5*[0,1] = [0, 0]
    np.testing.assert_allclose(out, [[0.8, 1.4], [0.0, 0.0]], atol=1e-7)
    np.testing.assert_allclose(anp_update(r, g, eta=1.0, eps=0.3, k=3), [[0.06, 0.08], [0.0, 0.1]], atol=1e-7)


@pytest.fixture()
def anp_trainer():
    return make_trainer(tiny_config("anp", anp_phases=(AnpPhase(0.5, 0.6, 3, 2),), epochs=2, weight_decay=0.0))


def test_first_register_update_uses_dl_dz_at_the_initial_weights(anp_trainer, digits_batch):
    """Step 1 runs with r = 0; its backward gives g = dL/dz, so r_1 = (eps/k) g/||g|| before theta moves."""
    x, y = digits_batch
    regs = anp_trainer.registers
    zeros = [tf.zeros([x.shape[0], *r.output.shape[1:]]) for r in regs]
    snapshot = [v.numpy() for v in anp_trainer.net.variables]
    with tf.GradientTape() as tape:
        tape.watch(zeros)
        with inject_noise({r.name: z for r, z in zip(regs, zeros)}):
            loss = xent(y, anp_trainer.net(x, training=True))
    g_ref = tape.gradient(loss, zeros)
    for v, value in zip(anp_trainer.net.variables, snapshot):
        v.assign(value)  # BN statistics moved in the reference pass: restore everything

    phase = anp_trainer.phase
    history, _ = anp_trainer.inner_steps(x, y)
    r_used = [step[2] for step in history]
    for m in range(len(regs)):
        np.testing.assert_array_equal(r_used[0][m], 0.0)  # registers start at 0
        expected = anp_update(zeros[m], g_ref[m], phase.eta, phase.eps, phase.k)
        np.testing.assert_allclose(r_used[1][m], expected, rtol=1e-4, atol=1e-6)
        norms = np.sqrt((r_used[1][m].numpy() ** 2).reshape(x.shape[0], -1).sum(1))
        np.testing.assert_allclose(norms, phase.eps / phase.k, rtol=1e-4)  # ||(eps/k) g/||g|||| = eps/k


def test_registers_reset_per_batch_and_theta_moves_k_times(anp_trainer, digits_batch):
    x, y = digits_batch
    kernel = anp_trainer.net.get_layer("conv0").kernel
    for batch in range(2):
        start = int(anp_trainer.optimizer.iterations.numpy())
        before = kernel.numpy().copy()
        history, final = anp_trainer.inner_steps(x, y)
        assert int(anp_trainer.optimizer.iterations.numpy()) - start == 3  # k = 3 parameter updates
        assert not np.allclose(kernel.numpy(), before)
        assert all(float(tf.reduce_max(tf.abs(r))) == 0.0 for r in history[0][2])  # fresh registers
        assert all(float(tf.reduce_max(tf.abs(r))) > 0.0 for r in final)
    logs = anp_trainer.train_on_batch(x, y, return_dict=True)
    assert int(anp_trainer.optimizer.iterations.numpy()) == 9  # the compiled train_step too
    assert logs["noise_norm/conv0_anp"] > 0


def test_phase_table():
    config = tiny_config("anp", anp_clean_epochs=40, anp_phases=(AnpPhase(1.0, 1.0, 3, 50), AnpPhase(0.3, 0.3, 5, 50)),
                         epochs=140)
    assert [anp_phase(config, e) for e in (0, 39)] == [None, None]
    assert anp_phase(config, 40).k == 3 and anp_phase(config, 89).k == 3
    assert anp_phase(config, 90) == AnpPhase(0.3, 0.3, 5, 50) and anp_phase(config, 139).k == 5


class _IterationsPerEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.counts, self.last = [], 0

    def on_epoch_end(self, epoch, logs=None):
        now = int(self.model.optimizer.iterations.numpy())
        self.counts.append(now - self.last)
        self.last = now


def test_phases_switch_at_the_configured_epochs(tmp_path):
    """1 clean epoch, then k=2 for 1 epoch, then k=3 for 1 epoch: updates per epoch = batches * (1, 2, 3)."""
    config = tiny_config("anp", num_train_examples=64, num_eval_examples=32, anp_clean_epochs=1,
                         anp_phases=(AnpPhase(1.0, 1.0, 2, 1), AnpPhase(0.3, 0.3, 3, 1)), epochs=3,
                         run_dir=str(tmp_path / "runs"), export_dir=str(tmp_path / "export"))
    counter = _IterationsPerEpoch()
    result = run.train(config, verbose=0, extra_callbacks=[counter])
    assert result["phases"] == {0: None, 1: AnpPhase(1.0, 1.0, 2, 1), 2: AnpPhase(0.3, 0.3, 3, 1)}
    assert counter.counts == [2, 4, 6]  # 64 examples / batch 32 = 2 batches per epoch
