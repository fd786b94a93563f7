"""Eval suite: attacks and robustness measurements of served models (``python -m eval``).

Reads SavedModels (or ``.keras`` files), never trainer internals. Attacks are functions of
(model_fn, x, y, params) in ``eval.attacks``; metrics are functions returning plain dicts in
``eval.metrics``; ``eval.report`` turns them into report.json, report.md and PNG plots.
"""
import os

# TensorFlow's environment before it loads, the values of zoo/_tf_env.py (oneDNN on, C++ logs quiet); set
# here rather than imported, because importing the zoo package loads TensorFlow and eval.report stays light.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
