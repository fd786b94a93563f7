"""On-disk cache of generated sets: one ``.npy`` per array under ``cache_dir/<fingerprint>/``.

The fingerprint hashes the input images (as float32 bytes and shape), the seed, the kind of set and
``VERSION``; bump ``VERSION`` whenever a generator's output changes so stale files are never reused.
Files are written atomically (a temporary file in the same directory, fsync, ``os.replace``), so a
crash or an exception never leaves a partial ``.npy`` under the final name.
"""
import contextlib
import hashlib
import json
import os
import tempfile
import zlib

import numpy as np

VERSION = "cifar10-cp-1"


def fingerprint(images, seed, kind):
    """16 hex characters identifying (images, seed, kind, VERSION)."""
    x = np.ascontiguousarray(images, np.float32)
    h = hashlib.sha256()
    h.update(f"{VERSION}|{kind}|{seed}|{x.shape}".encode())
    h.update(memoryview(x).cast("B"))
    return h.hexdigest()[:16]


def name_key(name):
    """A stable integer for a corruption/perturbation name (seeds must not depend on list order)."""
    return zlib.crc32(name.encode())


def chunk_rng(seed, name, level, chunk):
    """The Generator of one chunk of one (name, severity/frames) set."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), name_key(name), int(level), int(chunk)]))


def atomic_save(path, array):
    """np.save to ``path`` via a temporary file in the same directory and ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load(path, shape, dtype=np.uint8):
    """The cached array (memory-mapped, read-only) if ``path`` holds one of ``shape``/``dtype``, else None."""
    if not os.path.isfile(path):
        return None
    try:
        arr = np.load(path, mmap_mode="r")
    except (ValueError, OSError, EOFError):
        return None
    if arr.shape != tuple(shape) or arr.dtype != dtype:
        return None
    return arr


def write_meta(directory, meta):
    """A human-readable ``meta.json`` beside the arrays (atomic too)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "meta.json")
    fd, tmp = tempfile.mkstemp(prefix=".meta.json.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
