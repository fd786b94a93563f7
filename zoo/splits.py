"""TFDS-style split strings for every source (``train``, ``test[:500]``, ``train[10%:]+test``), checked with
one-line errors, and the digits source they slice here (TFDS slices its own datasets)."""
import functools
import re

import numpy as np

from zoo.errors import ZooError

DIGITS_TRAIN = 1437  # first 1437 of 1797 = 80 %, the rest (360) is "test"
DIGITS_SCALE = 16.0  # load_digits pixel values are 0..16
_SPLIT_RE = re.compile(r"^\s*([A-Za-z_][\w\-]*)\s*(?:\[(.*)\])?\s*$")
_BOUND_RE = re.compile(r"^\s*(-?\d+)\s*(%?)\s*$")


def split_parts(split):
    """'train[:10]+test' -> [('train', ':10'), ('test', None)]; ZooError for anything unparsable."""
    if not isinstance(split, str) or not split.strip():
        raise ZooError(f"split {split!r} is invalid: expected a split name such as 'train' or 'test[:100]'")
    parts = []
    for piece in split.split("+"):
        match = _SPLIT_RE.match(piece)
        if not match:
            raise ZooError(f"split {split!r} is invalid: expected a name with an optional [start:end] slice, "
                           "e.g. 'train[:200]'")
        parts.append((match.group(1), match.group(2)))
    return parts


def check_split(split, dataset_name, available):
    """Every base split name (before any [...] slice) must exist: PNI/ANP report train and test only."""
    for base, _ in split_parts(split):
        if base not in available:
            raise ZooError(f"split {base!r} not in dataset {dataset_name!r}: available splits are "
                           f"{', '.join(sorted(available))}")


def slice_bounds(split, base, slice_text, n):
    """TFDS-style [start:end] on n examples (integers, negative integers or percents) -> (start, end)."""
    if slice_text is None:
        return 0, n
    bounds = slice_text.split(":")
    if len(bounds) != 2:
        raise ZooError(f"split {split!r} has an invalid slice [{slice_text}]: expected [start:end], e.g. "
                       f"'{base}[:200]' or '{base}[10%:]'")
    out = []
    for text, default in zip(bounds, (0, n)):
        if not text.strip():
            out.append(default)
            continue
        match = _BOUND_RE.match(text)
        if not match:
            raise ZooError(f"split {split!r} has an invalid slice bound {text.strip()!r}: expected an integer "
                           "or a percent such as 10%")
        value = int(match.group(1))
        if match.group(2):  # percent, rounded to the closest example like TFDS
            value = int(round(n * value / 100.0))
        if value < 0:
            value += n
        out.append(min(max(value, 0), n))
    return out[0], max(out[0], out[1])


@functools.lru_cache(maxsize=1)
def digits_arrays():
    """(images uint8 [1797,8,8,1] with values 0..16, labels int64 [1797]) in the file's order."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits_split_indices(split):
    images, _ = digits_arrays()
    ranges = {"train": (0, DIGITS_TRAIN), "test": (DIGITS_TRAIN, len(images))}
    check_split(split, "digits", ranges)
    indices = []
    for base, slice_text in split_parts(split):
        lo, hi = ranges[base]
        start, end = slice_bounds(split, base, slice_text, hi - lo)
        indices.append(np.arange(lo + start, lo + end))
    return np.concatenate(indices)
