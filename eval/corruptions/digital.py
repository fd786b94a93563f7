"""Digital corruptions of CIFAR-10-C (constants: Hendrycks & Dietterich 2019, ``make_cifar_c.py``)."""
import io

import numpy as np

from eval.corruptions import ops
from eval.corruptions.registry import register

BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)  # added to HSV value
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)  # factor about the per-channel mean
SATURATE = ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2))  # S -> S * a + b
JPEG_QUALITY = (80, 65, 58, 50, 40)  # Pillow quality
PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)  # BOX down to int(32 c), BOX back up
IMSIZE = 32
# (elastic alpha, elastic sigma, affine jitter), each times IMSIZE: the CIFAR-10-C values
ELASTIC = ((IMSIZE * 0, IMSIZE * 0, IMSIZE * 0.08),
           (IMSIZE * 0.05, IMSIZE * 0.2, IMSIZE * 0.07),
           (IMSIZE * 0.08, IMSIZE * 0.06, IMSIZE * 0.06),
           (IMSIZE * 0.1, IMSIZE * 0.04, IMSIZE * 0.05),
           (IMSIZE * 0.1, IMSIZE * 0.03, IMSIZE * 0.03))
ELASTIC_TRUNCATE = 3.0


@register("brightness", BRIGHTNESS, random=False)
def brightness(x, severity, rng):
    """HSV: V = clip(V + c, 0, 1)."""
    return ops.brightness(x, BRIGHTNESS[severity - 1])


@register("contrast", CONTRAST, random=False)
def contrast(x, severity, rng):
    """(x - mean) * c + mean, mean per image and channel."""
    c = np.float32(CONTRAST[severity - 1])
    means = x.mean(axis=(1, 2), keepdims=True)
    return (x - means) * c + means


@register("saturate", SATURATE, random=False, benchmark=False)
def saturate(x, severity, rng):
    """HSV: S = clip(S * a + b, 0, 1) (severities 1-2 desaturate, 3-5 oversaturate)."""
    a, b = SATURATE[severity - 1]
    return ops.saturate(x, a, b)


def _encode_decode(img8, quality):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img8).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as out:
        return np.asarray(out.convert("RGB"))


@register("jpeg_compression", JPEG_QUALITY, random=False)
def jpeg_compression(x, severity, rng):
    """Pillow JPEG encode/decode at the severity's quality (default 4:2:0 subsampling), per image."""
    q = JPEG_QUALITY[severity - 1]
    x8 = np.round(x * 255.0).astype(np.uint8)
    out = np.stack([_encode_decode(img, q) for img in x8])
    return out.astype(np.float32) / np.float32(255.0)


@register("pixelate", PIXELATE, random=False)
def pixelate(x, severity, rng):
    """Pillow BOX resize of the 8-bit image to int(32 c) and back to 32, per image (Pillow's C resampler
    is faster on 32x32 images than a batched NumPy version and exact by definition)."""
    from PIL import Image

    size = x.shape[1]
    small = int(size * PIXELATE[severity - 1])
    x8 = np.round(x * 255.0).astype(np.uint8)
    out = np.empty_like(x8)
    for i, img in enumerate(x8):
        out[i] = Image.fromarray(img).resize((small, small), Image.Resampling.BOX).resize((size, size),
                                                                                         Image.Resampling.BOX)
    return out.astype(np.float32) / np.float32(255.0)


def affine_jitter_inverse(n, h, w, jitter, rng):
    """Inverse matrices [n, 2, 3] of ``cv2.getAffineTransform(pts1, pts1 + U(-jitter, jitter))``."""
    center = np.float32((h, w)) // 2
    square = min(h, w) // 3
    pts1 = np.float32([center + square, [center[0] + square, center[1] - square], center - square])
    pts2 = pts1[None] + rng.uniform(-jitter, jitter, size=(n, 3, 2)).astype(np.float32)
    src = np.concatenate([pts1, np.ones((3, 1), np.float32)], axis=1).astype(np.float64)  # rows (x, y, 1)
    forward = np.linalg.solve(src[None], pts2.astype(np.float64)).transpose(0, 2, 1)  # [n, 2, 3]: pts2 = M @ (x, y, 1)
    lin, shift = forward[:, :, :2], forward[:, :, 2:]
    inv_lin = np.linalg.inv(lin)
    return np.concatenate([inv_lin, -inv_lin @ shift], axis=2)


@register("elastic_transform", ELASTIC)
def elastic_transform(x, severity, rng):
    """Random affine (3-point jitter, ``cv2.warpAffine`` bilinear, BORDER_REFLECT_101), then the
    displacement field alpha * gaussian(U(-1, 1), sigma, reflect, truncate 3) per axis, sampled with
    ``scipy.ndimage.map_coordinates(order=1, mode='reflect')``."""
    alpha, sigma, jitter = ELASTIC[severity - 1]
    n, h, w, _ = x.shape
    inverse = affine_jitter_inverse(n, h, w, jitter, rng)
    img = ops.warp_affine(x, inverse, "mirror")
    dx = ops.gaussian(rng.uniform(-1, 1, size=(n, h, w)), sigma, mode="reflect", truncate=ELASTIC_TRUNCATE) * alpha
    dy = ops.gaussian(rng.uniform(-1, 1, size=(n, h, w)), sigma, mode="reflect", truncate=ELASTIC_TRUNCATE) * alpha
    ys, xs = ops.pixel_grid(h, w)
    return ops.sample(img, ys + dy, xs + dx, "reflect")
