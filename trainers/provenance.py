"""Where a trained model came from: commit, machine and library versions, written into its metadata.

Every shipped model records the commit it was trained at (and whether the tree had uncommitted changes),
the CPU it ran on and the TensorFlow / Keras versions, so a number in a model card can be traced and
re-measured on the same kind of machine.
"""
import os
import platform
import subprocess

from zoo.machine import cpu_model


def _git(*args):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def provenance():
    """A JSON-able dict: commit, dirty tree, CPU model, core count, Python, TensorFlow and Keras versions."""
    import keras
    import tensorflow as tf
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(status) if status is not None else None,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
    }
