"""The corruption registry: name -> ``Corruption`` (a checked ``fn(images, severity, rng) -> images``)."""
import dataclasses
from typing import Callable

import numpy as np

from zoo.errors import ZooError, choice_error
from zoo.registry import Registry

SEVERITIES = (1, 2, 3, 4, 5)
# the published order (make_cifar_c.py; the CIFAR-10-C file list): 15 benchmark corruptions, 4 extra
BENCHMARK = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
             "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
             "jpeg_compression")
EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL = BENCHMARK + EXTRA
IMAGE_SHAPE = (32, 32, 3)
_RANGE_TOL = 1e-6

CORRUPTIONS = Registry("corruption")  # name -> Corruption


@dataclasses.dataclass(frozen=True)
class Corruption:
    """One CIFAR-10-C corruption.

    ``fn(images, severity, rng)`` is the raw batch implementation; calling the object checks the
    inputs (ZooError on a bad severity, shape or range), runs ``fn`` and clips to [0,1] float32.
    ``params[s - 1]`` are the published CIFAR-10-C constants of severity s; ``random`` says whether
    the output depends on ``rng``."""

    name: str
    fn: Callable
    params: tuple
    random: bool
    benchmark: bool
    doc: str = ""

    def __call__(self, images, severity, rng=None):
        severity = check_severity(severity)
        x = check_images(images)
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        if len(x) == 0:
            return x.copy()
        out = self.fn(x, severity, rng)
        return np.clip(np.asarray(out, np.float32), 0.0, 1.0)


def register(name, params, random=True, benchmark=True):
    """Decorator: register ``fn(images, severity, rng)`` under ``name`` with its 5 severity params."""
    if len(params) != len(SEVERITIES):
        raise ValueError(f"{name}: expected {len(SEVERITIES)} severity parameter sets, got {len(params)}")

    def deco(fn):
        CORRUPTIONS.register(name, Corruption(name, fn, tuple(params), random, benchmark, (fn.__doc__ or "").strip()))
        return fn

    return deco


def get(name):
    """The registered Corruption, or a one-line ZooError listing what exists."""
    return CORRUPTIONS.get(name)


def check_severity(severity):
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or severity not in SEVERITIES:
        raise choice_error("severity", severity, SEVERITIES)
    return int(severity)


def check_images(images):
    """float32 [N, 32, 32, 3] in [0,1], or a one-line ZooError naming what was given."""
    x = np.asarray(images)
    if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise ZooError(f"images of shape {tuple(x.shape)}: expected [N, 32, 32, 3] (CIFAR-10-C parameters are for "
                       "32x32 RGB images)")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise ZooError(f"images of dtype {x.dtype}: expected float32 values in [0, 1]")
    x = np.asarray(x, np.float32)
    if x.size:
        lo, hi = float(np.min(x)), float(np.max(x))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
            raise ZooError(f"images with values in [{lo:g}, {hi:g}]: expected floats in [0, 1] "
                           "(divide uint8 images by 255)")
        if lo < 0 or hi > 1:
            x = np.clip(x, 0.0, 1.0)
    return x


def list_corruptions(kind="all"):
    """Registered names in the published order: kind "all", "benchmark" (the 15) or "extra" (the 4)."""
    names = {"all": ALL, "benchmark": BENCHMARK, "extra": EXTRA}
    if kind not in names:
        raise choice_error("corruption kind", kind, names)
    return [n for n in names[kind] if n in CORRUPTIONS]
