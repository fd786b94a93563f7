"""TensorFlow's process environment, set before TensorFlow is first imported (``import zoo`` runs this first;
``trainers``, ``bench`` and the tests import it before TensorFlow; ``eval/__init__.py`` sets the same values
itself so that ``eval.report`` stays free of TensorFlow).

* ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow's oneDNN CPU kernels. TensorFlow turns them on by itself only on
  some CPUs (Intel with AVX-512); on AMD EPYC (AVX2 only) it leaves them off, although a clean ResNet-20
  training step measured 1.57-1.83x faster with them (docs/PERFORMANCE.md). On CPUs where TensorFlow
  already uses them this changes nothing.
* ``TF_CPP_MIN_LOG_LEVEL=2``: TensorFlow's C++ info and warning lines off.

A value the user has set wins (``setdefault``); TensorFlow imported before ``zoo`` has read its own.
"""
import os

DEFAULTS = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}

for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)
