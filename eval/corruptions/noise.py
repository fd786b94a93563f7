"""Noise corruptions of CIFAR-10-C (constants: Hendrycks & Dietterich 2019, ``make_cifar_c.py``).

All draws are element-wise (every pixel and channel independent), as in the published code.
"""
import numpy as np

from eval.corruptions.registry import register

GAUSSIAN_NOISE = (0.04, 0.06, 0.08, 0.09, 0.10)  # std
SHOT_NOISE = (500, 250, 100, 75, 50)  # photons per unit intensity
IMPULSE_NOISE = (0.01, 0.02, 0.03, 0.05, 0.07)  # fraction of values flipped
SPECKLE_NOISE = (0.06, 0.10, 0.12, 0.16, 0.20)  # std of the multiplicative noise


@register("gaussian_noise", GAUSSIAN_NOISE)
def gaussian_noise(x, severity, rng):
    """x + N(0, c^2)."""
    c = GAUSSIAN_NOISE[severity - 1]
    return x + np.float32(c) * rng.standard_normal(x.shape, dtype=np.float32)


@register("shot_noise", SHOT_NOISE)
def shot_noise(x, severity, rng):
    """Poisson(x * c) / c."""
    c = SHOT_NOISE[severity - 1]
    return (rng.poisson(x.astype(np.float64) * c) / c).astype(np.float32)


@register("impulse_noise", IMPULSE_NOISE)
def impulse_noise(x, severity, rng):
    """skimage ``random_noise(mode='s&p', amount=c)``: each value flipped with prob. c, half to 1, half to 0."""
    c = IMPULSE_NOISE[severity - 1]
    flipped = rng.random(x.shape, dtype=np.float32) < c
    salt = rng.random(x.shape, dtype=np.float32) < 0.5
    out = x.copy()
    out[flipped & salt] = 1.0
    out[flipped & ~salt] = 0.0
    return out


@register("speckle_noise", SPECKLE_NOISE, benchmark=False)
def speckle_noise(x, severity, rng):
    """x + x * N(0, c^2)."""
    c = SPECKLE_NOISE[severity - 1]
    return x + x * (np.float32(c) * rng.standard_normal(x.shape, dtype=np.float32))
