"""Vectorised image primitives shared by the CIFAR-10-C corruptions and the CIFAR-10-P perturbations.

Every function acts on a whole batch, float32 ``[N, H, W, C]`` (or ``[N, H, W]`` where noted), and
reproduces the semantics of the library call the published generators made per image
(Hendrycks & Dietterich 2019, ``make_cifar_c.py`` / ``make_cifar_p.py``):

* ``gaussian``: ``skimage.filters.gaussian`` (scipy Gaussian along the two spatial axes only);
* ``motion_blur``: ImageMagick ``MagickMotionBlurImage`` (a one-sided line of ``2*ceil(radius)+1``
  taps with half-Gaussian weights, integer tap offsets along the angle, edge pixels repeated);
* ``clipped_zoom_matrix``: the generators' ``clipped_zoom`` (centre crop, ``scipy.ndimage.zoom``
  order 1, centre trim) as a 32x32 linear operator applied on both axes;
* ``sample``: bilinear sampling at arbitrary coordinates with the border rules of OpenCV
  (``BORDER_REFLECT_101``, constant 0), scipy (``reflect``) and Pillow's affine transform;
* ``brightness`` / ``saturate``: the skimage RGB->HSV->RGB round trip with V or S changed, in closed
  form (with H and S fixed every RGB component is proportional to V; with H and V fixed it is affine
  in S).
"""
import functools
import math

import numpy as np
from scipy import ndimage

_EPS_UINT8 = 1e-3  # absorbs float32 rounding before the published generators' np.uint8 (floor) cast


def to_uint8(x):
    """Floats in [0,1] -> uint8 like the published files (``np.uint8(255 * x)``: floor, not round)."""
    return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + _EPS_UINT8).astype(np.uint8)


def quantize(x):
    """Floats in [0,1] -> the nearest 8-bit level (what a PIL / PNG round trip stores), still float32."""
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.float32) / 255.0


# --------------------------------------------------------------------------------------------- filters


def gaussian(x, sigma, mode="nearest", truncate=4.0):
    """``skimage.filters.gaussian(img, sigma, mode, truncate, channel_axis=-1)`` on every image.

    ``x`` is [N, H, W] or [N, H, W, C]; axis 0 (batch) and a channel axis are never blurred."""
    if sigma <= 0:
        return np.array(x, dtype=np.float32, copy=True)
    sig = [0.0] * x.ndim
    sig[1] = sig[2] = float(sigma)
    return ndimage.gaussian_filter(np.asarray(x, np.float32), sig, mode=mode, truncate=truncate)


def correlate2d(x, kernel):
    """Correlate every image/channel with a small odd-sized 2-D kernel, OpenCV ``filter2D`` semantics
    (anchor at the centre, ``BORDER_REFLECT_101`` = scipy 'mirror'). ``x`` [N, H, W] or [N, H, W, C]."""
    k = np.asarray(kernel, np.float32)
    k = k.reshape((1,) + k.shape + (1,) * (x.ndim - 3))
    return ndimage.correlate(np.asarray(x, np.float32), k, mode="mirror")


@functools.lru_cache(maxsize=None)
def _motion_taps(radius, sigma):
    width = 2 * int(math.ceil(radius)) + 1  # GetOptimalKernelWidth1D for radius > 0
    i = np.arange(width, dtype=np.float64)
    weights = np.exp(-(i * i) / (2.0 * sigma * sigma))
    return i, weights / weights.sum()


def motion_offsets(radius, sigma, angles):
    """(weights [T], dx [N, T], dy [N, T]) of ImageMagick's motion-blur line for each angle (degrees)."""
    i, weights = _motion_taps(float(radius), float(sigma))
    rad = np.deg2rad(np.asarray(angles, np.float64)).reshape(-1, 1)
    width = float(len(i))
    px, py = width * np.sin(rad), width * np.cos(rad)  # ImageMagick's point.x, point.y
    hyp = np.hypot(px, py)
    dx = np.ceil(i * py / hyp - 0.5).astype(np.int64)
    dy = np.ceil(i * px / hyp - 0.5).astype(np.int64)
    return weights, dx, dy


def _planar(x):
    """[N, H, W, C] -> contiguous [C, N*H*W]: per-channel 1-D gathers are ~4x faster than row gathers."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(x, np.float32), -1, 0)).reshape(x.shape[-1], -1)


def _unplanar(planes, shape):
    """[C, prod(shape)] -> [*shape, C]."""
    return np.ascontiguousarray(np.moveaxis(planes.reshape((planes.shape[0],) + tuple(shape)), 0, -1))


def _accumulate(out, planes, idx, weight):
    """out[k] += weight * planes[k][idx] for every channel k (flat int64 indices and weights)."""
    for k in range(planes.shape[0]):
        g = np.take(planes[k], idx)
        g *= weight
        out[k] += g


def motion_blur(x, radius, sigma, angles):
    """ImageMagick ``MotionBlurImage(radius, sigma, angle)`` on every image, one angle per image.

    Output pixel (y, x) = sum_t w_t * img[clamp(y + dy_t), clamp(x + dx_t)] with w_t proportional to
    exp(-t^2 / 2 sigma^2), t = 0..2*ceil(radius), and (dx_t, dy_t) = ceil(t*(cos a, sin a) - 0.5).
    ``x`` is [N, H, W, C]; ``angles`` has N entries (or one, shared)."""
    n, h, w, c = x.shape
    angles = np.broadcast_to(np.asarray(angles, np.float64).reshape(-1), (n,))
    weights, dx, dy = motion_offsets(radius, sigma, angles)
    planes = _planar(x)
    base = (np.arange(n, dtype=np.int64) * (h * w))[:, None, None]
    ys, xs = np.arange(h), np.arange(w)
    out = np.zeros((c, n * h * w), np.float32)
    for t, wt in enumerate(weights):
        rows = np.clip(ys[None, :] + dy[:, t:t + 1], 0, h - 1) * w  # [N, H]
        cols = np.clip(xs[None, :] + dx[:, t:t + 1], 0, w - 1)  # [N, W]
        _accumulate(out, planes, (base + rows[:, :, None] + cols[:, None, :]).reshape(-1), np.float32(wt))
    return _unplanar(out, (n, h, w))


# --------------------------------------------------------------------------------------------- linear operators


@functools.lru_cache(maxsize=None)
def clipped_zoom_matrix(n, zoom):
    """[n, n] operator Z with clipped_zoom(img) = Z @ img @ Z.T (per channel).

    The generators' clipped_zoom: crop the central ceil(n/zoom) rows/cols, ``scipy.ndimage.zoom`` them
    by ``zoom`` with order=1, trim the centre n. The 1-D operator is scipy's own zoom of the identity."""
    ch = int(np.ceil(n / zoom))
    top = (n - ch) // 2
    zoomed = ndimage.zoom(np.eye(ch), (zoom, 1), order=1)  # column j: response to basis vector e_j
    trim = (zoomed.shape[0] - n) // 2
    out = np.zeros((n, n))
    out[:, top:top + ch] = zoomed[trim:trim + n]
    out.setflags(write=False)
    return out


def separable(x, rows, cols=None):
    """Apply ``rows`` [H', H] along the height and ``cols`` [W', W] along the width of every image.

    ``x`` is [N, H, W] or [N, H, W, C]; two tensordots (BLAS) over the whole batch."""
    cols = rows if cols is None else cols
    rows = np.asarray(rows, np.float32)
    cols = np.asarray(cols, np.float32)
    y = np.tensordot(x, cols, axes=([2], [1]))  # [N, H, (C,) W']
    y = np.tensordot(rows, y, axes=([1], [1]))  # [H', N, (C,) W']
    if x.ndim == 4:
        return np.ascontiguousarray(y.transpose(1, 0, 3, 2))
    return np.ascontiguousarray(y.transpose(1, 0, 2))


def apply_pixel_operator(x, op):
    """Apply a dense [H*W, H*W] operator to every image/channel: one GEMM over the batch."""
    n, h, w, c = x.shape
    cols = np.ascontiguousarray(np.asarray(x, np.float32).reshape(n, h * w, c).transpose(0, 2, 1))
    out = cols.reshape(n * c, h * w) @ np.asarray(op, np.float32).T
    return np.ascontiguousarray(out.reshape(n, c, h, w).transpose(0, 2, 3, 1))


# --------------------------------------------------------------------------------------------- sampling


@functools.lru_cache(maxsize=None)
def _fold_table(n, mode):
    """Folded index for every i in [-n, 2n): a lookup table for the common, small excursions."""
    i = np.arange(-n, 2 * n)
    if mode == "reflect":  # scipy 'reflect' / numpy 'symmetric': d c b a | a b c d | d c b a
        out = np.where(i < 0, -1 - i, np.where(i >= n, 2 * n - 1 - i, i))
    else:  # 'mirror': OpenCV BORDER_REFLECT_101 / scipy 'mirror': d c b | a b c d | c b a
        out = np.abs(i)
        out = np.where(out >= n, 2 * n - 2 - out, out)
        out = np.abs(out)
    return out.astype(np.int32)


def _fold(i, n, mode):
    """Integer indices -> in-range indices for a border ``mode`` (+ a validity mask for 'constant')."""
    if mode == "constant":  # OpenCV BORDER_CONSTANT 0: taps outside the image read 0
        return np.clip(i, 0, n - 1), (i >= 0) & (i < n)
    if mode in ("nearest", "pil"):  # edge pixels repeated
        return np.clip(i, 0, n - 1), None
    if mode not in ("reflect", "mirror"):
        raise ValueError(f"unknown border mode {mode!r}")
    if int(i.min()) >= -n and int(i.max()) < 2 * n:
        return np.take(_fold_table(n, mode).astype(i.dtype), i + n), None
    period = 2 * n if mode == "reflect" else 2 * n - 2
    i = np.mod(i, period)
    return np.where(i >= n, period - i - (1 if mode == "reflect" else 0), i), None


def sample(x, ys, xs, mode):
    """Bilinear samples of every image at (ys, xs) (pixel-centre coordinates, row/col indices).

    ``x`` [N, H, W, C]; ``ys``/``xs`` [M, H', W'] with M = N (per-image coordinates) or M = 1 (shared).
    Modes: "mirror" (OpenCV BORDER_REFLECT_101), "reflect" (scipy map_coordinates 'reflect'),
    "constant" (OpenCV BORDER_CONSTANT 0: each outside tap reads 0), "nearest" (edge repeated),
    "pil" (Pillow's affine BILINEAR: points outside the image's pixel area are 0, taps clamped)."""
    n, h, w, c = x.shape
    ys = np.asarray(ys, np.float64)
    xs = np.asarray(xs, np.float64)
    y0f, x0f = np.floor(ys), np.floor(xs)
    fy, fx = (ys - y0f).astype(np.float32), (xs - x0f).astype(np.float32)
    y0, x0 = y0f.astype(np.int64), x0f.astype(np.int64)
    (ya, vya), (yb, vyb) = _fold(y0, h, mode), _fold(y0 + 1, h, mode)
    (xa, vxa), (xb, vxb) = _fold(x0, w, mode), _fold(x0 + 1, w, mode)
    planes = _planar(x)
    base = (np.arange(n, dtype=np.int64) * (h * w))[:, None, None]
    out_shape = (n,) + ys.shape[1:]
    ra, rb = base + ya * w, base + yb * w
    gy, gx = 1.0 - fy, 1.0 - fx
    out = np.zeros((c, int(np.prod(out_shape))), np.float32)
    for rows, cols, weight, vy, vx in ((ra, xa, gy * gx, vya, vxa), (ra, xb, gy * fx, vya, vxb),
                                       (rb, xa, fy * gx, vyb, vxa), (rb, xb, fy * fx, vyb, vxb)):
        if vy is not None:
            weight = weight * (vy & vx)
        if mode == "pil":
            weight = weight * ((ys >= -0.5) & (ys < h - 0.5) & (xs >= -0.5) & (xs < w - 0.5))
        _accumulate(out, planes, np.broadcast_to(rows + cols, out_shape).reshape(-1),
                    np.broadcast_to(weight, out_shape).reshape(-1).astype(np.float32))
    return _unplanar(out, out_shape)


def pixel_grid(h, w):
    """(ys, xs) [1, h, w] float64 index grids."""
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return ys[None], xs[None]


def warp_affine(x, inverse, mode):
    """Sample every image at ``inverse @ (col, row, 1)``: ``inverse`` [2, 3] shared or [N, 2, 3]."""
    h, w = x.shape[1], x.shape[2]
    ys, xs = pixel_grid(h, w)
    inv = np.asarray(inverse, np.float64).reshape(-1, 2, 3)
    a, b, c = (inv[:, 0, k][:, None, None] for k in range(3))
    d, e, f = (inv[:, 1, k][:, None, None] for k in range(3))
    return sample(x, d * xs + e * ys + f, a * xs + b * ys + c, mode)


def torchvision_affine(x, angle=0.0, translate=(0.0, 0.0), scale=1.0, shear=0.0, resample="bilinear"):
    """``torchvision.transforms.functional.affine`` of the 0.2-0.4 era on a PIL image, for the batch.

    Those releases rotate about PIL point (w/2 + 0.5, h/2 + 0.5), i.e. pixel index (w/2, h/2), build
    the inverse matrix [[cos(a+s), sin(a+s)], [-sin a, cos a]] / (scale * cos s) and let Pillow sample
    (outside -> 0). ``resample`` "nearest" takes floor of the Pillow coordinate; "bilinear" interpolates
    (Pillow then truncates to 8 bits, which the caller's ``to_uint8`` reproduces)."""
    h, w = x.shape[1], x.shape[2]
    cx, cy = w * 0.5 + 0.5, h * 0.5 + 0.5  # Pillow coordinates (pixel corners at integers)
    a, s = math.radians(angle), math.radians(shear)
    d = math.cos(a + s) * math.cos(a) + math.sin(a + s) * math.sin(a)
    m = [math.cos(a + s), math.sin(a + s), 0.0, -math.sin(a), math.cos(a), 0.0]
    m = [v / scale / d for v in m]
    tx, ty = translate
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    ys, xs = pixel_grid(h, w)
    # Pillow evaluates the matrix at output pixel centres (index + 0.5)
    xin = m[0] * (xs + 0.5) + m[1] * (ys + 0.5) + m[2]
    yin = m[3] * (xs + 0.5) + m[4] * (ys + 0.5) + m[5]
    if resample == "nearest":
        inside = (xin >= 0) & (xin < w) & (yin >= 0) & (yin < h)
        xi = np.clip(np.floor(xin), 0, w - 1)
        yi = np.clip(np.floor(yin), 0, h - 1)
        return sample(x, yi, xi, "nearest") * inside[..., None]
    return sample(x, yin - 0.5, xin - 0.5, "pil")


# --------------------------------------------------------------------------------------------- colour


def channel_max(x):
    """max over the 3 channels, keepdims (pairwise maxima: faster than a reduction over a size-3 axis)."""
    return np.maximum(np.maximum(x[..., 0:1], x[..., 1:2]), x[..., 2:3])


def brightness(x, delta):
    """skimage rgb2hsv -> V = clip(V + delta, 0, 1) -> hsv2rgb, in closed form (per pixel).

    With H and S fixed every RGB component is V times a function of (H, S), so the round trip scales
    the pixel by V'/V; black pixels (V = 0, where skimage sets S = H = 0) become grey V'."""
    v = channel_max(x)
    v2 = np.clip(v + np.float32(delta), 0.0, 1.0)
    ratio = np.divide(v2, v, out=np.zeros_like(v), where=v > 0)
    return np.where(v > 0, x * ratio, v2).astype(np.float32)


def saturate(x, factor, offset):
    """skimage rgb2hsv -> S = clip(S * factor + offset, 0, 1) -> hsv2rgb, in closed form.

    With H and V fixed each component is V - (V - c) * S'/S. Grey pixels (S = 0) have H = 0 (red)
    in skimage, so a positive offset turns them to (V, V(1-S'), V(1-S'))."""
    v = channel_max(x)
    mn = np.minimum(np.minimum(x[..., 0:1], x[..., 1:2]), x[..., 2:3])
    s = np.divide(v - mn, v, out=np.zeros_like(v), where=v > 0)
    s2 = np.clip(s * np.float32(factor) + np.float32(offset), 0.0, 1.0)
    ratio = np.divide(s2, s, out=np.zeros_like(s), where=s > 0)
    coloured = v - (v - x) * ratio
    grey = np.concatenate([v, v * (1 - s2), v * (1 - s2)], axis=-1)
    return np.where(s > 0, coloured, grey).astype(np.float32)


def rgb_to_gray(x):
    """OpenCV ``COLOR_RGB2GRAY`` on float images: 0.299 R + 0.587 G + 0.114 B, keepdims."""
    return (0.299 * x[..., 0:1] + 0.587 * x[..., 1:2] + 0.114 * x[..., 2:3]).astype(np.float32)
