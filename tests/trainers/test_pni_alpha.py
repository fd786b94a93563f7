"""PNI Table 1's direction on a small model: plain training shrinks alpha, PNI adversarial training grows the front.

Alpha trajectories of a tiny net over a few hundred steps are dominated by SGD noise (the alpha
gradient sum(dL/dw~ * eta) has a large variance), so the test measures the *expected* pressure on
|alpha| that each objective exerts: E[d L / d|alpha|] = E[sign(alpha) dL/dalpha] over 16 noise
draws, at the same weights. Positive means gradient descent shrinks the noise.
"""
import numpy as np
import tensorflow as tf

from tests.trainers.conftest import tiny_config
from trainers import run
from trainers.base import xent
from trainers.methods.pni import PNITrainer
from zoo import data


def _pressure(net, alphas, loss_fn, draws=16):
    out = []
    for _ in range(draws):
        with tf.GradientTape() as tape:
            loss = loss_fn(tape)
        grads = tape.gradient(loss, alphas)
        out.append([float(g) * np.sign(float(a.numpy())) for g, a in zip(grads, alphas)])
    return np.mean(out, axis=0)


def test_plain_training_shrinks_alpha_and_pni_training_pushes_front_layers_up(tmp_path):
    eps = 0.15  # digits are 8x8 with 17 grey levels: 8/255 is below one level
    config = tiny_config("vanilla", pni="W", width=0.25, epochs=3, num_train_examples=512, num_eval_examples=64,
                         eps=eps, step_size=eps / 3, steps=3, run_dir=str(tmp_path), export_dir=str(tmp_path),
                         export_name="alpha", seed=0)
    net = run.train(config, verbose=0)["net"]
    alphas = [v for v in net.trainable_variables if "alpha" in v.path]
    x, y = (tf.constant(a) for a in data.as_numpy("digits", "train", 256))
    tf.random.set_seed(1)

    clean = _pressure(net, alphas, lambda tape: xent(y, net(x, training=True)))
    pni = PNITrainer(net, tiny_config("pni", eps=eps, step_size=eps / 3, steps=3))

    def eq11(tape):
        with pni.recording(tape):
            return pni.objective(x, y)[0]

    adversarial = _pressure(net, alphas, eq11)
    assert (clean > 0).mean() >= 0.8, clean  # plain training: alpha -> 0 (Table 1, "Vanilla Training")
    assert adversarial[:3].mean() < 0 < clean[:3].mean(), (adversarial[:3], clean[:3])  # front layers grow
