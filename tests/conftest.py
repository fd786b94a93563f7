import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
SHARED_CIFAR = ROOT.parent / "shared" / "data" / "cifar10_jpeg"
sys.path.insert(0, str(ROOT))

import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment, as the entry points set it: oneDNN on)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def cifar_dir():
    """The offline CIFAR-10 prepared dataset beside the checkout, or a skip naming why."""
    if not (SHARED_CIFAR / "1.0.0" / "dataset_info.json").is_file():
        pytest.skip(f"offline CIFAR-10 not found at {SHARED_CIFAR} (only present beside the team's checkout)")
    return str(SHARED_CIFAR / "1.0.0")
