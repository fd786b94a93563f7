"""Eval suite: attacks and robustness measurements of served models (``python -m eval``).

Reads SavedModels (or ``.keras`` files), never trainer internals. Attacks are functions of
(model_fn, x, y, params) in ``eval.attacks``; metrics are functions returning plain dicts in
``eval.metrics``; ``eval.report`` turns them into report.json, report.md and PNG plots.
"""
import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment, before TensorFlow loads)
