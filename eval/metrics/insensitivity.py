"""Noise insensitivity (ANP sec. "Model Robustness Evaluation with Proposed Criteria").

* epsilon-empirical noise insensitivity, ANP eq. (4):
  I_f(eps) = 1/(N M) sum_i sum_j |l(x_i, y_i) - l(mu_ij, y_i)| / ||x_i - mu_ij||_inf,
  ||x_i - mu_ij||_inf <= eps, for M polluted copies mu_ij of each x_i made by an adversarial attack
  (FGSM, PGD, Step-LL) or a corruption (Gaussian noise of std eps; CIFAR-10-C shot noise of severity 1,
  Poisson(500 x) / 500 from ``eval.corruptions.noise``, not ImageNet-C's c = 60), clipped into the eps-ball.
  Smaller is more insensitive (ANP Fig. 8-9).
* hidden representation insensitivity (ANP Fig. 4, 13): per ReLU layer, the mean absolute change of
  the activations between x and a polluted x' (PGD or Gaussian noise within eps), divided by the
  mean absolute activation on x, so layers of different scale compare.
"""
import numpy as np
import tensorflow as tf

from eval.attacks import run_attack
from eval.corruptions import noise as cifar_c_noise
from zoo.adversarial import per_example_xent


def _loss(model_fn, x, y):
    return per_example_xent(y, model_fn(tf.constant(x))).numpy()


def polluted(method, model_fn, x, y, eps, rng):
    """One polluted copy of x within the eps-ball (L-inf), in [0,1]."""
    if method in ("fgsm", "step_ll"):
        out = run_attack(method, model_fn, tf.constant(x), tf.constant(y), eps=eps).numpy()
    elif method == "pgd":
        out = run_attack("pgd", model_fn, tf.constant(x), tf.constant(y), eps=eps, step_size=eps / 4,
                         steps=10).numpy()
    elif method == "gaussian_noise":
        out = x + rng.normal(0.0, eps, x.shape)
    elif method == "shot_noise":
        out = cifar_c_noise.shot_noise(np.clip(x, 0, 1), 1, rng)  # CIFAR-10-C severity 1: c = 500
    else:
        raise ValueError(f"unknown pollution {method!r}")
    return np.clip(np.clip(out, x - eps, x + eps), 0.0, 1.0).astype(np.float32)


def noise_insensitivity(model_fn, x, y, method, eps, copies=10, seed=0):
    """I_f(eps) of ANP eq. (4)."""
    rng = np.random.default_rng(seed)
    base = _loss(model_fn, x, y)
    ratios = []
    for _ in range(copies):
        mu = polluted(method, model_fn, x, y, eps, rng)
        dist = np.abs(mu - x).reshape(len(x), -1).max(1)
        ok = dist > 0
        ratios.append(np.abs(base - _loss(model_fn, mu, y))[ok] / dist[ok])
    values = np.concatenate(ratios)
    return float(values.mean()) if values.size else 0.0


def hidden_insensitivity(keras_model, x, x_polluted, layer_types=("ReLU",)):
    """{layer name: mean |a(x) - a(x')| / mean |a(x)|} for the model's activation layers, in order."""
    import keras
    layers = [layer for layer in keras_model.layers if type(layer).__name__ in layer_types]
    probe = keras.Model(keras_model.inputs, [layer.output for layer in layers])
    a, b = probe(tf.constant(x), training=False), probe(tf.constant(x_polluted), training=False)
    a, b = (a, b) if isinstance(a, (list, tuple)) else ([a], [b])
    return {layer.name: float(np.mean(np.abs(u.numpy() - w.numpy())) / (np.mean(np.abs(u.numpy())) + 1e-12))
            for layer, u, w in zip(layers, a, b)}
