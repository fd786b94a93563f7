"""The spatter liquid layers of CIFAR-10-C / CIFAR-10-P, vectorised over the batch.

The published ``spatter`` (Hendrycks & Dietterich 2019, ``make_cifar_c.py``; ``make_cifar_p.py``)
renders water (severities 1-3, and every CIFAR-10-P frame) by running an OpenCV chain on a liquid
layer: ``Canny(L8, 50, 150)`` -> ``distanceTransform(255 - edges, DIST_L2, 5)`` -> ``threshold(.., 20,
TRUNC)`` -> 3x3 ``blur`` -> uint8 -> ``equalizeHist`` -> ``filter2D(CV_8U, [[-2,-1,0],[-1,1,1],[0,1,2]])``
-> 3x3 ``blur``; the water intensity is ``L8 * dist`` normalised by its maximum. Each OpenCV step is
re-implemented here on [N, 32, 32] integer arrays with OpenCV's rules (Sobel with replicated border
and L1 magnitude, fixed-point non-maximum suppression, hysteresis = 8-connected components holding a
strong pixel, the 5x5 chamfer distance a=1, b=1.4, c=2.1969 in 16.16 fixed point, BORDER_REFLECT_101,
``saturate_cast`` rounding); tests compare the chain with ``cv2`` itself.

Mud (severities 4-5) is a thresholded, Gaussian-blurred liquid mask.
"""
import numpy as np
from scipy import ndimage

from eval.corruptions import ops

_TG22 = 13573  # round(tan(22.5 deg) * 2**15), OpenCV's Canny constant
_CHAMFER_A, _CHAMFER_B, _CHAMFER_C = 65536, 91750, 143976  # round(2**16 * (1, 1.4, 2.1969))
_INIT = 2 ** 31 - 1
_EIGHT = np.zeros((3, 3, 3), bool)
_EIGHT[1] = True  # 8-connectivity inside each image, none across the batch axis
_SPATTER_KERNEL = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32)
WATER_RGB = np.array([175, 238, 238], np.float32) / 255.0  # "pale turquoise"
MUD_RGB = np.array([63, 42, 20], np.float32) / 255.0  # "mud brown"


def to_l8(liquid):
    """``(liquid * 255).astype(np.uint8)`` as int64 (truncation; values >= 256 wrap like the C cast)."""
    return np.mod(np.floor(np.maximum(liquid, 0.0) * 255.0).astype(np.int64), 256)


def canny(img, low=50, high=150):
    """``cv2.Canny(img, low, high)`` (aperture 3, L1 gradient) on [N, H, W] ints -> bool edge maps."""
    img = np.asarray(img, np.int64)
    p = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")  # Sobel with BORDER_REPLICATE
    gx = (p[:, :-2, 2:] + 2 * p[:, 1:-1, 2:] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, 1:-1, :-2] + p[:, 2:, :-2])
    gy = (p[:, 2:, :-2] + 2 * p[:, 2:, 1:-1] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, :-2, 1:-1] + p[:, :-2, 2:])
    mag = np.abs(gx) + np.abs(gy)
    mp = np.pad(mag, ((0, 0), (1, 1), (1, 1)))  # magnitudes outside the image are 0
    left, right = mp[:, 1:-1, :-2], mp[:, 1:-1, 2:]
    up, down = mp[:, :-2, 1:-1], mp[:, 2:, 1:-1]
    up_left, up_right = mp[:, :-2, :-2], mp[:, :-2, 2:]
    down_left, down_right = mp[:, 2:, :-2], mp[:, 2:, 2:]
    ax, ay = np.abs(gx), np.abs(gy) << 15
    tg22x = ax * _TG22
    tg67x = tg22x + (ax << 16)
    horizontal = ay < tg22x
    vertical = ~horizontal & (ay > tg67x)
    diagonal = ~horizontal & ~vertical
    same_sign = (gx ^ gy) >= 0  # OpenCV's s = +1
    keep = ((horizontal & (mag > left) & (mag >= right))
            | (vertical & (mag > up) & (mag >= down))
            | (diagonal & same_sign & (mag > up_left) & (mag > down_right))
            | (diagonal & ~same_sign & (mag > up_right) & (mag > down_left)))
    candidate = keep & (mag > low)
    strong = candidate & (mag > high)
    labels, count = ndimage.label(candidate, structure=_EIGHT)
    if count == 0:
        return np.zeros(img.shape, bool)
    hit = np.zeros(count + 1, bool)
    hit[labels[strong]] = True
    hit[0] = False
    return hit[labels]


def chamfer_distance(sources):
    """``cv2.distanceTransform(src, DIST_L2, 5)`` where ``sources`` (bool [N, H, W]) are src's zeros.

    OpenCV's two raster passes with the 5x5 mask in 16.16 fixed point; the within-row recurrence
    d[j] = min(c[j], d[j-1] + a) is solved for a whole row at once as a running minimum."""
    n, h, w = sources.shape
    d = np.full((n, h + 4, w + 4), _INIT, np.int64)
    j = np.arange(w, dtype=np.int64) * _CHAMFER_A
    a, b, c = _CHAMFER_A, _CHAMFER_B, _CHAMFER_C
    for r in range(h):  # forward pass: rows above, then left to right
        R = r + 2
        cand = np.minimum.reduce([d[:, R - 2, 1:w + 1] + c, d[:, R - 2, 3:w + 3] + c, d[:, R - 1, 0:w] + c,
                                  d[:, R - 1, 4:w + 4] + c, d[:, R - 1, 1:w + 1] + b, d[:, R - 1, 3:w + 3] + b,
                                  d[:, R - 1, 2:w + 2] + a])
        cand = np.where(sources[:, r], 0, cand)
        d[:, R, 2:w + 2] = np.minimum.accumulate(cand - j, axis=1) + j
    for r in range(h - 1, -1, -1):  # backward pass: rows below, then right to left
        R = r + 2
        cand = np.minimum.reduce([d[:, R, 2:w + 2], d[:, R + 2, 3:w + 3] + c, d[:, R + 2, 1:w + 1] + c,
                                  d[:, R + 1, 4:w + 4] + c, d[:, R + 1, 3:w + 3] + b, d[:, R + 1, 2:w + 2] + a,
                                  d[:, R + 1, 1:w + 1] + b, d[:, R + 1, 0:w] + c])
        e = cand + j
        d[:, R, 2:w + 2] = np.minimum.accumulate(e[:, ::-1], axis=1)[:, ::-1] - j
    return d[:, 2:h + 2, 2:w + 2].astype(np.float32) * np.float32(1.0 / 65536)


def _box3(x):
    """Sum over the 3x3 neighbourhood with BORDER_REFLECT_101, float64."""
    p = np.pad(np.asarray(x, np.float64), ((0, 0), (1, 1), (1, 1)), mode="reflect")
    h, w = x.shape[1], x.shape[2]
    return sum(p[:, i:i + h, j:j + w] for i in range(3) for j in range(3))


def equalize_hist(img):
    """``cv2.equalizeHist`` on [N, H, W] ints in 0..255."""
    n = img.shape[0]
    total = img.shape[1] * img.shape[2]
    flat = img.reshape(n, -1)
    hist = np.bincount((flat + 256 * np.arange(n)[:, None]).ravel(), minlength=256 * n).reshape(n, 256)
    first = np.argmax(hist > 0, axis=1)
    h_first = hist[np.arange(n), first]
    cdf = np.cumsum(hist, axis=1)
    denom = np.maximum(total - h_first, 1).astype(np.float32)
    scale = np.float32(255.0) / denom
    lut = np.rint((cdf - h_first[:, None]).astype(np.float32) * scale[:, None])
    lut = np.clip(lut, 0, 255).astype(np.int64)
    constant = h_first == total
    lut[constant] = first[constant, None]
    return np.take_along_axis(lut, flat, axis=1).reshape(img.shape)


def water_intensity(liquid):
    """Normalised water intensity m/max(m) in [0,1] for liquid layers [N, H, W] (spatter sev. 1-3).

    Deviation: where a layer has no liquid at all (max 0) the published code divides 0 by 0 and the
    image turns black after the uint8 cast; here such an image gets no water."""
    l8 = to_l8(liquid)
    edges = canny(l8)
    dist = np.minimum(chamfer_distance(edges), np.float32(20.0))
    dist = np.floor((_box3(dist) * (1.0 / 9.0)).astype(np.float32)).astype(np.int64)  # blur, astype(uint8)
    dist = equalize_hist(dist)
    dist = np.clip(np.rint(ops.correlate2d(dist.astype(np.float32), _SPATTER_KERNEL)), 0, 255)
    dist = np.rint(_box3(dist) * (1.0 / 9.0)).astype(np.float32)  # cv2.blur on uint8 rounds
    m = l8.astype(np.float32) * dist
    peak = m.max(axis=(1, 2), keepdims=True)
    return np.divide(m, peak, out=np.zeros_like(m), where=peak > 0)


def add_water(x, intensity, strength):
    """x + strength * intensity * pale turquoise (the BGRA round trip of the original only adds alpha)."""
    return np.clip(x + (np.float32(strength) * intensity)[..., None] * WATER_RGB, 0.0, 1.0)


def add_mud(x, liquid, threshold, sigma):
    """Mud: mask = gaussian(liquid > threshold, sigma), zeroed below 0.8, blended with mud brown."""
    m = ops.gaussian((liquid > threshold).astype(np.float32), sigma)
    m[m < 0.8] = 0.0
    m = m[..., None]
    return np.clip(x * (1.0 - m) + MUD_RGB * m, 0.0, 1.0)
