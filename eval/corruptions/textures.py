"""Frost textures for the ``frost`` corruption.

Source: the six frost photographs that the PyPI package ``imagecorruptions`` (Michaelis et al. 2019,
https://github.com/bethgelab/imagecorruptions, Apache-2.0) ships in ``imagecorruptions/frost/``; they
are the ``frost1.png .. frost6.jpg`` files of Hendrycks & Dietterich's ImageNet-C/CIFAR-10-C code.
They are read from the installed package directory (``importlib.resources``), never downloaded.

The CIFAR generator reads a file with ``cv2.imread`` (colour, alpha dropped), shrinks it with
``cv2.resize(fx=0.2, fy=0.2)`` (bilinear, half-pixel centres) and crops a random 32x32 patch. For a
factor of exactly 1/5 OpenCV's bilinear sample points fall on source pixel centres
(src = 5 * dst + 2), so the resize is the exact subsampling ``img[2::5, 2::5]`` done here.
"""
import functools
from importlib import resources

import numpy as np

from zoo.errors import ZooError

FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg")
SHRINK = 5  # cv2.resize(fx=0.2, fy=0.2)


def _read(name):
    from PIL import Image

    try:
        ref = resources.files("imagecorruptions").joinpath("frost", name)
        with resources.as_file(ref) as path, Image.open(path) as img:
            return np.asarray(img.convert("RGB"), np.uint8)
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise ZooError(f"frost texture {name!r} not found ({err}): expected the 'imagecorruptions' package "
                       "(pip install imagecorruptions), which ships imagecorruptions/frost/") from None


@functools.lru_cache(maxsize=None)
def frost_textures():
    """The six textures as float32 [h, w, 3] in [0,1], shrunk by 5 exactly as the CIFAR generator does."""
    out = []
    for name in FILES:
        img = _read(name)
        rows = (img.shape[0] * 2 + SHRINK) // (2 * SHRINK)  # round(h * 0.2), cv2's dsize
        cols = (img.shape[1] * 2 + SHRINK) // (2 * SHRINK)
        small = img[SHRINK // 2::SHRINK, SHRINK // 2::SHRINK][:rows, :cols]
        small = np.ascontiguousarray(small, np.float32) / 255.0
        small.setflags(write=False)
        out.append(small)
    return tuple(out)
