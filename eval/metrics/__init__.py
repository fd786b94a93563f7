"""Metrics: functions of (model, data, params) that return plain dicts for ``eval.report``."""
