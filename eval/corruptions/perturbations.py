"""CIFAR-10-P: perturbation sequences (Hendrycks & Dietterich 2019, ``ImageNet-P/create_p/make_cifar_p.py``).

``perturbation_sequence(images, name, frames=31, seed=0)`` -> [N, frames, 32, 32, 3]. Parameters are
those of ``make_cifar_p.py``; a sequence is described by the parameter at frame f with t = f/(frames-1),
so ``frames=31`` reproduces the published 31-frame sweeps exactly, and other frame counts resample the
same range (translate was published with 16 frames and motion_blur with 21: pass ``frames=16`` /
``frames=21`` for the published steps; the default 31 gives finer steps over the same range).

Noise sequences (``noise=True``): frame 0 is the clean image, frames 1.. are independent draws at one
fixed small severity; the flip probability compares every frame with frame 0. All other sequences are
smooth: the flip probability compares consecutive frames. ANP's Table 10 uses ``ANP_TABLE10``.
"""
import dataclasses
import math
import os
from typing import Callable

import numpy as np

from eval.corruptions import cache, liquid, ops
from eval.corruptions.generation import _check_dtype, map_chunks
from eval.corruptions.registry import check_images
from eval.corruptions.weather import add_snow, snow_layer_8bit
from zoo.errors import ZooError, choice_error
from zoo.registry import Registry

PERTURBATIONS = Registry("perturbation")  # name -> Perturbation
ANP_TABLE10 = ("gaussian_noise", "shot_noise", "speckle_noise", "motion_blur", "zoom_blur", "gaussian_blur",
               "brightness", "spatter", "snow", "translate", "rotate", "tilt")
DEFAULT_FRAMES = 31
MIN_FRAMES = 2


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """One CIFAR-10-P sequence: ``fn(images, frames, rng) -> [N, frames, H, W, C]`` floats in [0,1]."""

    name: str
    fn: Callable
    params: str
    random: bool
    noise: bool
    published_frames: int
    deviation: str = ""


def _register(name, params, random=False, noise=False, published_frames=31, deviation=""):
    def deco(fn):
        PERTURBATIONS.register(name, Perturbation(name, fn, params, random, noise, published_frames, deviation))
        return fn

    return deco


def _ramp(frames, start, stop):
    """Parameter value per frame: start + (stop - start) * f / (frames - 1)."""
    return np.linspace(start, stop, frames)


def _stack(frames_list):
    return np.stack(frames_list, axis=1).astype(np.float32)


# --------------------------------------------------------------------------------------------- noise


def _noise(name, draw, params):
    @_register(name, params, random=True, noise=True)
    def fn(x, frames, rng):
        return _stack([x] + [np.clip(draw(x, rng), 0.0, 1.0) for _ in range(frames - 1)])

    fn.__name__ = name
    return fn


for _suffix, _std in (("", 0.02), ("_2", 0.04), ("_3", 0.06)):
    _noise(f"gaussian_noise{_suffix}",
           lambda x, rng, s=_std: x + np.float32(s) * rng.standard_normal(x.shape, np.float32),
           f"frame 0 clean; frames 1.. clip(x + N(0, {_std}^2)), independent")
for _suffix, _c in (("", 700), ("_2", 400), ("_3", 200)):
    _noise(f"shot_noise{_suffix}", lambda x, rng, c=_c: rng.poisson(x.astype(np.float64) * c) / c,
           f"frame 0 clean; frames 1.. clip(Poisson({_c} x) / {_c}), independent")
for _suffix, _std in (("", 0.05), ("_2", 0.07), ("_3", 0.1)):
    _noise(f"speckle_noise{_suffix}",
           lambda x, rng, s=_std: x + x * (np.float32(s) * rng.standard_normal(x.shape, np.float32)),
           f"frame 0 clean; frames 1.. clip(x + x N(0, {_std}^2)), independent")


# --------------------------------------------------------------------------------------------- blur


@_register("motion_blur", "ImageMagick motion blur radius 6, sigma 1.8, angle -180 -> 0 deg (same for all images)",
           published_frames=21, deviation="published: 21 frames, 9 deg steps; frames=31 gives 6 deg steps")
def motion_blur(x, frames, rng):
    x8 = ops.quantize(x)
    return _stack([ops.quantize(ops.motion_blur(x8, 6, 1.8, [a])) for a in _ramp(frames, -180.0, 0.0)])


@_register("zoom_blur", "frame f = mean of x and its bilinear zooms by 1 + 0.004 i, i = 1..f (PIL affine, 8-bit)")
def zoom_blur(x, frames, rng):
    out = [x]
    total = x.astype(np.float64)
    for i, s in enumerate(_ramp(frames, 1.0, 1.12)[1:], start=1):
        total = total + ops.to_uint8(ops.torchvision_affine(x, scale=float(s))) / 255.0  # Pillow truncates
        out.append(total / (i + 1))
    return _stack(out)


@_register("gaussian_blur", "skimage gaussian, sigma 0.3 -> 0.75 (0.3 + 0.015 f), truncate 7")
def gaussian_blur(x, frames, rng):
    return _stack([ops.gaussian(x, float(s), truncate=7.0) for s in _ramp(frames, 0.3, 0.75)])


# --------------------------------------------------------------------------------------------- weather / digital


@_register("brightness", "HSV V + c, c = -0.225 -> 0.225 ((f - 15) * 1.5 / 100)")
def brightness(x, frames, rng):
    return _stack([ops.brightness(x, float(c)) for c in _ramp(frames, -0.225, 0.225)])


SPATTER_P = dict(loc=0.6, scale=0.265, sigma=1.75, threshold=0.7, strength=0.6, drip=(0.2, 0.8))


@_register("spatter", "water: liquid N(0.6, 0.265) -> gaussian 1.75 -> zero < 0.7, intensity 0.6; each frame the "
           "liquid is convolved down its columns with [0.2, 0.8] (np.convolve 'same')",
           random=True, deviation="the drip step is per frame, so frames != 31 lengthens/shortens the run")
def spatter(x, frames, rng):
    p = SPATTER_P
    n, h, w, _ = x.shape
    layer = ops.gaussian(rng.normal(p["loc"], p["scale"], size=(n, h, w)).astype(np.float32), p["sigma"])
    layer[layer < p["threshold"]] = 0.0
    drip = np.stack([np.convolve(e, p["drip"], mode="same") for e in np.eye(h)], axis=1).astype(np.float32)
    out = []
    for _ in range(frames):
        out.append(liquid.add_water(x, liquid.water_intensity(layer), p["strength"]))
        layer = np.einsum("ij,njw->niw", drip, layer)
    return _stack(out)


@_register("snow", "flakes N(0.05, 0.3) -> clipped zoom 2 -> zero < 0.5 -> 8-bit, fixed per image; frame: "
           "ImageMagick motion blur radius 10, sigma 2, angle -150 -> -30 deg (4 f - 150); blend 0.85", random=True)
def snow(x, frames, rng):
    n, h, w, _ = x.shape
    layer = rng.normal(0.05, 0.3, size=(n, h, w)).astype(np.float32)
    layer = ops.separable(layer, ops.clipped_zoom_matrix(h, 2.0))
    layer[layer < 0.5] = 0.0
    layer = snow_layer_8bit(layer)[..., None]
    out = []
    for angle in _ramp(frames, -150.0, -30.0):
        flakes = ops.quantize(ops.motion_blur(layer, 10, 2, [angle]))
        out.append(add_snow(x, flakes, 0.85))
    return _stack(out)


# --------------------------------------------------------------------------------------------- geometry


@_register("translate", "horizontal shift -7 -> +8 px (torchvision affine, zero fill)", published_frames=16,
           deviation="published: 16 frames of whole-pixel shifts (nearest); frames=31 gives 0.5 px steps, "
                     "the half-pixel positions bilinear (frames=16 reproduces the integer shifts exactly)")
def translate(x, frames, rng):
    return _stack([ops.torchvision_affine(x, translate=(float(t), 0.0)) for t in _ramp(frames, -7.0, 8.0)])


@_register("rotate", "rotation -15 -> 15 deg (f - 15), bilinear, zero fill, about pixel (16, 16) as torchvision 0.2")
def rotate(x, frames, rng):
    return _stack([ops.torchvision_affine(x, angle=float(a)) for a in _ramp(frames, -15.0, 15.0)])


def tilt_homography(h, w, degrees):
    """make_cifar_p.py's 3x3 ``P2 @ T @ RX @ RY @ P1`` with phi = theta = ``degrees``."""
    phi = theta = math.radians(degrees)
    f = math.sqrt(w ** 2 + h ** 2)
    p1 = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1], [0, 0, 1]])
    rx = np.array([[1, 0, 0, 0], [0, math.cos(theta), -math.sin(theta), 0],
                   [0, math.sin(theta), math.cos(theta), 0], [0, 0, 0, 1]])
    ry = np.array([[math.cos(phi), 0, -math.sin(phi), 0], [0, 1, 0, 0],
                   [math.sin(phi), 0, math.cos(phi), 0], [0, 0, 0, 1]])
    t = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, f], [0, 0, 0, 1]])
    p2 = np.array([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0]])
    return p2 @ t @ rx @ ry @ p1


def warp_perspective(x, mat):
    """``cv2.warpPerspective(img, mat, (w, h))``: bilinear, BORDER_CONSTANT 0, for the whole batch."""
    h, w = x.shape[1], x.shape[2]
    ys, xs = ops.pixel_grid(h, w)
    inv = np.linalg.inv(mat)
    den = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
    sx = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) / den
    sy = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) / den
    return ops.sample(x, sy, sx, "constant")


@_register("tilt", "perspective tilt phi = theta = -11.25 -> 11.25 deg (0.75 (f - 15)), cv2.warpPerspective")
def tilt(x, frames, rng):
    h, w = x.shape[1], x.shape[2]
    return _stack([ops.quantize(warp_perspective(x, tilt_homography(h, w, float(d))))
                   for d in _ramp(frames, -11.25, 11.25)])


@_register("scale", "zoom 0.7 -> 1.3 ((2 f + 70) / 100), bilinear, zero fill")
def scale(x, frames, rng):
    return _stack([ops.torchvision_affine(x, scale=float(s)) for s in _ramp(frames, 0.7, 1.3)])


@_register("shear", "shear -15 -> 15 deg (f - 15), bilinear, zero fill")
def shear(x, frames, rng):
    return _stack([ops.torchvision_affine(x, shear=float(s)) for s in _ramp(frames, -15.0, 15.0)])


# --------------------------------------------------------------------------------------------- API


def get_perturbation(name):
    """The registered Perturbation, or a one-line ZooError listing what exists."""
    return PERTURBATIONS.get(name)


def flip_reference(name):
    """The frame a flip is counted against in FP: ``"first"`` for noise sequences, ``"previous"`` otherwise.

    The one table is the registry's ``noise`` flag (gaussian/shot/speckle noise and their ``_2``/``_3``):
    Hendrycks & Dietterich compare independent noise draws with the first frame and the frames of a
    smooth sequence with their predecessor (``flip_prob`` in ``cifar-p-eval.py``).
    """
    return "first" if get_perturbation(name).noise else "previous"


def check_frames(frames):
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < MIN_FRAMES:
        raise ZooError(f"frames={frames!r} is invalid: expected an integer >= {MIN_FRAMES} "
                       f"(the published sequences have {DEFAULT_FRAMES})")
    return int(frames)


def list_perturbations(kind="all"):
    """Registered names; kind "anp" gives the 12 of ANP Table 10."""
    if kind == "anp":
        return list(ANP_TABLE10)
    if kind != "all":
        raise choice_error("perturbation kind", kind, ("all", "anp"))
    return list(PERTURBATIONS)


def perturbation_sequence(images, name, frames=DEFAULT_FRAMES, seed=0, cache_dir=None, dtype="float32",
                          workers=None):
    """CIFAR-10-P sequences [N, frames, 32, 32, 3] of ``images`` for perturbation ``name``.

    Frames are stored like the published files (uint8, ``np.uint8(255 x)``); ``dtype="float32"`` (the
    default) returns them /255, ``"uint8"`` as stored. With ``cache_dir`` the uint8 array is kept as
    ``cache_dir/<fingerprint>/p_<name>_<frames>.npy`` and memory-mapped on later calls."""
    p = get_perturbation(name)
    frames = check_frames(frames)
    dtype = _check_dtype(dtype)
    x = check_images(images)
    shape = (len(x), frames) + x.shape[1:]
    path = None
    if cache_dir is not None:
        directory = os.path.join(os.fspath(cache_dir), cache.fingerprint(x, seed, "cifar10-p"))
        cache.write_meta(directory, dict(kind="CIFAR-10-P", version=cache.VERSION, seed=int(seed),
                                         num_images=len(x)))
        path = os.path.join(directory, f"p_{name}_{frames}.npy")
        arr = cache.load(path, shape)
        if arr is not None:
            return arr if dtype == "uint8" else np.asarray(arr, np.float32) / np.float32(255.0)
    arr = np.empty(shape, np.uint8)

    def run(start, stop, k):
        arr[start:stop] = ops.to_uint8(p.fn(x[start:stop], frames, cache.chunk_rng(seed, name, frames, k)))

    if len(x):
        map_chunks(run, len(x), workers)
    if path:
        cache.atomic_save(path, arr)
    return arr if dtype == "uint8" else arr.astype(np.float32) / np.float32(255.0)
