"""The machine a number was measured on: CPU model and the vector extensions that decide TF's kernels;
and a small cache of choices measured on it (XLA or not)."""
import hashlib
import json
import os
import platform


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo``), with its vector extensions that decide TF's kernels."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    return f"{name} ({vector})" if vector else name


# A measured choice (e.g. XLA or not, trainers/jit.py and eval's pgd_fast) holds for one CPU model, TensorFlow
# build and oneDNN setting: it is cached under a key made of those and the caller's own parts.
def choice_cache_path():
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "robustness_zoo", "jit.json")


def choice_key(*parts):
    """A short key for ``parts`` on this machine (CPU model, TensorFlow version, oneDNN setting included)."""
    import tensorflow as tf
    machine = [cpu_model(), tf.__version__, os.environ.get("TF_ENABLE_ONEDNN_OPTS")]
    return hashlib.sha256(repr(machine + list(parts)).encode()).hexdigest()[:16]


def read_choice(key):
    try:
        with open(choice_cache_path()) as f:
            return json.load(f).get(key)
    except (OSError, ValueError, AttributeError):
        return None


def write_choice(key, entry):
    """Add ``entry`` under ``key`` (atomic replace; a cache that cannot be written only costs a re-measurement)."""
    path = choice_cache_path()
    try:
        with open(path) as f:
            entries = json.load(f)
    except (OSError, ValueError):
        entries = {}
    entries[key] = entry
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(entries, f, indent=1)
        os.replace(tmp, path)
    except OSError:
        pass
