"""Generate CIFAR-10-C sets for a batch of images, with an on-disk cache (see ``cache``)."""
import concurrent.futures
import os

import numpy as np

from eval.corruptions import cache, ops
from eval.corruptions.registry import ALL, SEVERITIES, check_images, check_severity, get

CHUNK = 1000  # images per chunk; part of the seeding, so changing it changes the generated sets
DTYPES = ("uint8", "float32")


# One thread by default: on this shared 2-core machine two threads were slower for most corruptions
# (bench/corruptions.py, "ours_2threads"; OpenBLAS already threads the GEMMs). Results never depend on it.
DEFAULT_WORKERS = 1


def map_chunks(fn, n, workers):
    """[fn(start, stop, chunk_index)] over CHUNK-sized slices of range(n), on ``workers`` threads.

    NumPy/SciPy/Pillow release the GIL in their kernels, so threads use both cores; every chunk has
    its own Generator, so the result does not depend on ``workers`` or on scheduling."""
    bounds = [(i, min(i + CHUNK, n), k) for k, i in enumerate(range(0, n, CHUNK))]
    workers = DEFAULT_WORKERS if workers is None else max(1, int(workers))
    if workers == 1 or len(bounds) == 1:
        return [fn(*b) for b in bounds]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda b: fn(*b), bounds))


def corrupt(images, name, severity, seed=0, workers=None):
    """float32 [N, 32, 32, 3]: corruption ``name`` at ``severity``, seeded per chunk as ``generate`` is.

    ``generate(...)[(name, severity)]`` equals ``ops.to_uint8(corrupt(...))`` for the same seed."""
    corruption = get(name)
    severity = check_severity(severity)
    x = check_images(images)

    def run(start, stop, k):
        return corruption(x[start:stop], severity, cache.chunk_rng(seed, name, severity, k))

    if len(x) == 0:
        return x.copy()
    return np.concatenate(map_chunks(run, len(x), workers))


def _check_dtype(dtype):
    from zoo.errors import choice_error

    key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if key not in DTYPES:
        raise choice_error("dtype", dtype, DTYPES)
    return key


def _names(corruptions):
    if isinstance(corruptions, str):
        corruptions = (corruptions,)
    return [get(n).name for n in corruptions]


def generate(images, corruptions=ALL, severities=SEVERITIES, seed=0, cache_dir=None, progress=True,
             dtype="uint8", workers=None):
    """CIFAR-10-C for ``images``: {(name, severity): array [N, 32, 32, 3]}.

    Arrays are uint8 like the published files (``np.uint8(255 x)``, i.e. floor), or float32 = uint8/255
    with ``dtype="float32"``. With ``cache_dir`` every (name, severity) set is stored as
    ``cache_dir/<fingerprint>/<name>_<severity>.npy`` (fingerprint of images + seed + version) and loaded
    (memory-mapped) instead of regenerated on later calls. ``progress`` shows a tqdm bar over the sets."""
    from tqdm.auto import tqdm

    names = _names(corruptions)
    sevs = [check_severity(s) for s in severities]
    dtype = _check_dtype(dtype)
    x = check_images(images)
    directory = None
    if cache_dir is not None:
        directory = os.path.join(os.fspath(cache_dir), cache.fingerprint(x, seed, "cifar10-c"))
        cache.write_meta(directory, dict(kind="CIFAR-10-C", version=cache.VERSION, seed=int(seed),
                                         num_images=len(x), chunk=CHUNK))
    out = {}
    jobs = [(n, s) for n in names for s in sevs]
    for name, severity in tqdm(jobs, desc="CIFAR-10-C", unit="set", disable=not progress):
        path = os.path.join(directory, f"{name}_{severity}.npy") if directory else None
        arr = cache.load(path, x.shape) if path else None
        if arr is None:
            arr = ops.to_uint8(corrupt(x, name, severity, seed, workers))
            if path:
                cache.atomic_save(path, arr)
                arr = cache.load(path, x.shape)
        out[(name, severity)] = arr if dtype == "uint8" else np.asarray(arr, np.float32) / np.float32(255.0)
    return out
