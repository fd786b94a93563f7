"""Weather corruptions of CIFAR-10-C (constants: Hendrycks & Dietterich 2019, ``make_cifar_c.py``)."""
import numpy as np

from eval.corruptions import liquid, ops, textures
from eval.corruptions.registry import register

# (normal loc, normal scale, zoom, threshold, motion radius, motion sigma, blend)
SNOW = ((0.1, 0.2, 1, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8))
SNOW_ANGLE = (-135.0, -45.0)
FROST = ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))  # (image weight, frost weight)
FROST_FILES_USED = 5  # np.random.randint(5): the published code never picks frost6.jpg
FOG = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))  # (fog weight, plasma wibble decay)
FOG_MAPSIZE = 32
# (loc, scale, blur sigma, threshold, water intensity | mud blur sigma, mud?)
SPATTER = ((0.62, 0.1, 0.7, 0.7, 0.5, 0),
           (0.65, 0.1, 0.8, 0.7, 0.5, 0),
           (0.65, 0.3, 1, 0.69, 0.5, 0),
           (0.65, 0.1, 0.7, 0.69, 0.6, 1),
           (0.65, 0.1, 0.5, 0.68, 0.6, 1))


def snow_layer_8bit(layer):
    """``PIL.Image.fromarray((np.clip(layer, 0, 1) * 255).astype(np.uint8))`` as float in [0,1]."""
    return np.floor(np.clip(layer, 0.0, 1.0) * 255.0) / np.float32(255.0)


def add_snow(x, flakes, blend):
    """blend * x + (1 - blend) * max(x, 1.5 gray + 0.5), plus the flakes and the flakes rotated 180 deg."""
    x = blend * x + (1 - blend) * np.maximum(x, ops.rgb_to_gray(x) * 1.5 + 0.5)
    return x + flakes + flakes[:, ::-1, ::-1]


@register("snow", SNOW)
def snow(x, severity, rng):
    """Gaussian flakes, clipped zoom, threshold, 8-bit, ImageMagick motion blur at U(-135, -45) deg."""
    loc, scale, zoom, threshold, radius, sigma, blend = SNOW[severity - 1]
    n, h, w, _ = x.shape
    layer = rng.normal(loc, scale, size=(n, h, w)).astype(np.float32)
    layer = ops.separable(layer, ops.clipped_zoom_matrix(h, float(zoom)))
    layer[layer < threshold] = 0.0
    layer = snow_layer_8bit(layer)
    angles = rng.uniform(*SNOW_ANGLE, size=n)
    flakes = ops.quantize(ops.motion_blur(layer[..., None], radius, sigma, angles))
    return add_snow(x, flakes, blend)


@register("frost", FROST)
def frost(x, severity, rng):
    """a * x + b * (random 32x32 crop of one of frost1..frost5, shrunk 5x) — see ``textures``."""
    a, b = FROST[severity - 1]
    n, h, w, _ = x.shape
    tex = textures.frost_textures()[:FROST_FILES_USED]
    which = rng.integers(FROST_FILES_USED, size=n)
    max_row = np.array([t.shape[0] - h for t in tex])[which]
    max_col = np.array([t.shape[1] - w for t in tex])[which]
    row0 = rng.integers(0, max_row)
    col0 = rng.integers(0, max_col)
    patches = np.empty_like(x)
    for k, t in enumerate(tex):
        sel = np.nonzero(which == k)[0]
        if len(sel):
            rows = row0[sel, None, None] + np.arange(h)[None, :, None]
            cols = col0[sel, None, None] + np.arange(w)[None, None, :]
            patches[sel] = t[rows, cols]
    return np.float32(a) * x + np.float32(b) * patches


def plasma_fractal(n, mapsize, wibbledecay, rng):
    """Diamond-square height maps [n, mapsize, mapsize] in [0,1], one per image (vectorised).

    The generators' ``plasma_fractal``: start wibble 100, each midpoint = mean of 4 neighbours (with
    wrap-around) + wibble * U(-wibble, wibble), wibble /= wibbledecay per level, then min-max scaled."""
    a = np.zeros((n, mapsize, mapsize))
    step = mapsize
    wibble = 100.0

    def wibbled(total):
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = a[:, 0:mapsize:step, 0:mapsize:step]
        sq = corners + np.roll(corners, -1, axis=1)
        sq = sq + np.roll(sq, -1, axis=2)
        a[:, half:mapsize:step, half:mapsize:step] = wibbled(sq)
        dr = a[:, half:mapsize:step, half:mapsize:step]
        ul = a[:, 0:mapsize:step, 0:mapsize:step]
        lt = (dr + np.roll(dr, 1, axis=1)) + (ul + np.roll(ul, -1, axis=2))
        a[:, 0:mapsize:step, half:mapsize:step] = wibbled(lt)
        tt = (dr + np.roll(dr, 1, axis=2)) + (ul + np.roll(ul, -1, axis=1))
        a[:, half:mapsize:step, 0:mapsize:step] = wibbled(tt)
        step //= 2
        wibble /= wibbledecay
    a -= a.min(axis=(1, 2), keepdims=True)
    return (a / a.max(axis=(1, 2), keepdims=True)).astype(np.float32)


@register("fog", FOG)
def fog(x, severity, rng):
    """(x + c * plasma) * max(x) / (max(x) + c), plasma of size 32 with the severity's wibble decay."""
    c, decay = FOG[severity - 1]
    n, h, w, _ = x.shape
    peak = x.max(axis=(1, 2, 3), keepdims=True)
    plasma = plasma_fractal(n, FOG_MAPSIZE, decay, rng)[:, :h, :w, None]
    return (x + np.float32(c) * plasma) * peak / (peak + np.float32(c))


@register("spatter", SPATTER, benchmark=False)
def spatter(x, severity, rng):
    """Liquid layer N(loc, scale) -> gaussian(sigma) -> zero below threshold; water (sev. 1-3) or mud."""
    loc, scale, sigma, threshold, strength, mud = SPATTER[severity - 1]
    n, h, w, _ = x.shape
    layer = ops.gaussian(rng.normal(loc, scale, size=(n, h, w)).astype(np.float32), sigma)
    layer[layer < threshold] = 0.0
    if mud:
        return liquid.add_mud(x, layer, threshold, strength)
    return liquid.add_water(x, liquid.water_intensity(layer), strength)
