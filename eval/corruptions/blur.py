"""Blur corruptions of CIFAR-10-C (constants: Hendrycks & Dietterich 2019, ``make_cifar_c.py``)."""
import functools

import numpy as np

from eval.corruptions import ops
from eval.corruptions.registry import register

DEFOCUS_BLUR = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))  # (disk radius, alias blur sigma)
GLASS_BLUR = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))  # (sigma, max delta, iterations)
MOTION_BLUR = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))  # ImageMagick (radius, sigma); angle ~ U(-45, 45)
ZOOM_BLUR = ((1, 1.06, 0.01), (1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.01), (1, 1.26, 0.01))  # np.arange args
GAUSSIAN_BLUR = (0.4, 0.6, 0.7, 0.8, 1.0)  # sigma
MOTION_ANGLE = (-45.0, 45.0)


@functools.lru_cache(maxsize=None)
def disk_kernel(radius, alias_blur):
    """The generators' ``disk``: a normalised aliased disk on a 17x17 grid (radius <= 8), smoothed by
    ``cv2.GaussianBlur(ksize=(3, 3), sigmaX=alias_blur)``; returned trimmed to its non-zero support."""
    if radius <= 8:
        grid, ksize = np.arange(-8, 9), 3
    else:
        grid, ksize = np.arange(-radius, radius + 1), 5
    xx, yy = np.meshgrid(grid, grid)
    disk = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float32)
    disk /= disk.sum()
    t = np.arange(ksize) - (ksize - 1) / 2
    g = np.exp(-(t * t) / (2.0 * alias_blur * alias_blur))
    g = (g / g.sum()).astype(np.float32)
    padded = np.pad(disk, ksize // 2, mode="reflect")  # BORDER_REFLECT_101
    rows = sum(g[i] * padded[i:i + disk.shape[0], :] for i in range(ksize))
    k = sum(g[j] * rows[:, j:j + disk.shape[1]] for j in range(ksize)).astype(np.float32)
    nz_r, nz_c = np.nonzero(k.any(axis=1))[0], np.nonzero(k.any(axis=0))[0]
    # keep the kernel centred: trim symmetrically
    r = max(abs(nz_r[0] - k.shape[0] // 2), abs(nz_r[-1] - k.shape[0] // 2),
            abs(nz_c[0] - k.shape[1] // 2), abs(nz_c[-1] - k.shape[1] // 2))
    cen = k.shape[0] // 2
    out = np.ascontiguousarray(k[cen - r:cen + r + 1, cen - r:cen + r + 1])
    out.setflags(write=False)
    return out


@register("defocus_blur", DEFOCUS_BLUR, random=False)
def defocus_blur(x, severity, rng):
    """``cv2.filter2D`` of each channel with the anti-aliased disk kernel (BORDER_REFLECT_101)."""
    radius, alias = DEFOCUS_BLUR[severity - 1]
    return ops.correlate2d(x, disk_kernel(radius, alias))


def glass_shuffle(img, offsets):
    """One pass of the published pixel loop, vectorised.

    The published loop visits (h, w) for h, w = 31..2 (descending) and runs
    ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` with (dx, dy) = randint(-1, 1) in {-1, 0}. On NumPy
    arrays the right-hand side holds *views*, so the first assignment copies x[h', w'] into x[h, w] and
    the second writes that same value back: no swap, only x[h, w] <- x[h', w']. Because (h', w') is
    never to the lower right of (h, w), it has not been visited yet, so every read sees the input of
    the pass: the loop is exactly the parallel gather out[h, w] = in[h + dy, w + dx] done here.

    ``offsets`` [N, 30, 30, 2] are (dx, dy) in the loop's visiting order (row 0 = h 31, col 0 = w 31)."""
    n, h, w = img.shape[:3]
    nat = offsets[:, ::-1, ::-1]  # natural order: index k <-> pixel 2 + k
    rows = np.arange(2, h)[None, :, None] + nat[..., 1]
    cols = np.arange(2, w)[None, None, :] + nat[..., 0]
    out = img.copy()
    out[:, 2:, 2:] = img[np.arange(n)[:, None, None], rows, cols]
    return out


@register("glass_blur", GLASS_BLUR)
def glass_blur(x, severity, rng):
    """gaussian(sigma) -> uint8 -> ``iterations`` local pixel moves (``glass_shuffle``) -> gaussian(sigma)."""
    sigma, delta, iterations = GLASS_BLUR[severity - 1]
    assert delta == 1, "the vectorised pass is exact for max_delta = 1 (all CIFAR severities)"
    img = np.floor(ops.gaussian(x, sigma) * 255.0 + 1e-3)  # np.uint8(...): floor
    span = x.shape[1] - 2
    for _ in range(iterations):
        offsets = rng.integers(-delta, delta, size=(len(x), span, span, 2))
        img = glass_shuffle(img, offsets)
    return ops.gaussian(img / np.float32(255.0), sigma)


@register("motion_blur", MOTION_BLUR)
def motion_blur(x, severity, rng):
    """ImageMagick motion blur (``ops.motion_blur``) of the 8-bit image at an angle ~ U(-45, 45) deg per
    image; the result is stored 8-bit as the PNG round trip of the original does."""
    radius, sigma = MOTION_BLUR[severity - 1]
    angles = rng.uniform(*MOTION_ANGLE, size=len(x))
    return ops.quantize(ops.motion_blur(ops.quantize(x), radius, sigma, angles))


def zoom_factors(severity):
    """The published ``np.arange(1, stop, 0.01)`` zoom factors (7, 12, 16, 21, 26 of them)."""
    return np.arange(*ZOOM_BLUR[severity - 1])


@functools.lru_cache(maxsize=None)
def zoom_blur_operator(severity, size=32):
    """[size^2, size^2] operator of (x + sum_z clipped_zoom(x, z)) / (len(z) + 1)."""
    zs = zoom_factors(severity)
    op = np.eye(size * size)
    for z in zs:
        m = ops.clipped_zoom_matrix(size, float(z))
        op = op + np.kron(m, m)
    op = (op / (len(zs) + 1)).astype(np.float32)
    op.setflags(write=False)
    return op


@register("zoom_blur", ZOOM_BLUR, random=False)
def zoom_blur(x, severity, rng):
    """Average of the image and its clipped zooms (one dense linear operator, one GEMM per batch)."""
    return ops.apply_pixel_operator(x, zoom_blur_operator(severity, x.shape[1]))


@register("gaussian_blur", GAUSSIAN_BLUR, random=False, benchmark=False)
def gaussian_blur(x, severity, rng):
    """skimage gaussian(sigma) (mode 'nearest', truncate 4)."""
    return ops.gaussian(x, GAUSSIAN_BLUR[severity - 1])
