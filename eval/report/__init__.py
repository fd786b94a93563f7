"""The eval report: plain dicts written as ``report.json``, ``report.md`` (tables a person reads) and PNG
plots. No TensorFlow here: a baseline report can be read with numpy and matplotlib alone. The schema of
``report.json`` (fields, conventions, Markdown formats, atomic writes): docs/REPORT_SCHEMA.md.

    report = Report(meta={"models": ["pni_w"], "dataset": "cifar10", "split": "test", ...})
    report.add_result(model="pni_w", attack="pgd", params={"eps": 8 / 255, "steps": 20},
                      accuracy=0.4594, std=0.0011, trials=5, eot=8, bpda=False, seed=0,
                      seconds=812.4, num_examples=500)
    paths = report.write("reports/latest")   # {"json": ..., "markdown": ..., "plots": [...]}
    baseline = load("reports/baseline/report.json")

Modules, each importing only those above it: ``validate`` (schema constants, field checks), ``layout``
(titles, the plot plan), ``markdown`` (formatting, ``render_markdown``), ``plots`` (matplotlib, imported
on the first figure), ``io`` (``load``, atomic writes); ``Report`` is here and the helpers are re-exported
(``eval.report._atomic_write``, ``_plot_curves``, ``_PLOTTERS``, ... keep working).
"""
import copy
import json
import os

import numpy as np

# Re-exported for the callers of the one-module eval.report (eval.leaderboard.board: _atomic_write,
# _plot_curves; tests: render_markdown, _PLOTTERS).
from eval.report.files import _atomic_write, load  # noqa: F401
from eval.report.layout import _plot_plan
from eval.report.markdown import format_accuracy, format_params, render_markdown  # noqa: F401
from eval.report.plots import _PLOTTERS, DPI, _plot_curves  # noqa: F401
from eval.report.validate import (JSON_NAME, MARKDOWN_NAME, SCHEMA_VERSION, TOP_LEVEL_KEYS, _bool, _check_fields,
                                  _fail, _optional_str, _float, _float_list, _int, _jsonable, _str, _str_list)


class Report:
    """Accumulates result rows, curves, matrices, checks, histograms and image grids; ``write``
    turns them into report.json, report.md and PNGs (schema: docs/REPORT_SCHEMA.md)."""

    _RESULT_REQUIRED = ("model", "attack", "accuracy", "trials", "eot", "bpda", "seed", "seconds",
                        "num_examples")
    _RESULT_OPTIONAL = ("params", "std", "defense", "l2_distortion", "suite", "notes", "noise", "eot_mode", "votes")
    _CHOICES = {"noise": ("on", "off"), "eot_mode": ("gradient", "logits")}

    def __init__(self, meta=None):
        if meta is not None and not isinstance(meta, dict):
            raise ValueError(f"Report: meta must be a dict; got {type(meta).__name__}")
        self._data = {"schema_version": SCHEMA_VERSION, "meta": _jsonable(dict(meta or {}), "meta"),
                      "results": [], "curves": [], "matrices": [], "checks": [], "histograms": [],
                      "image_grids": []}

    def update_meta(self, **items):
        """Add or replace meta entries (e.g. the total time, known only at the end)."""
        self._data["meta"].update(_jsonable(dict(items), "meta"))

    # -- adding ---------------------------------------------------------------------------------

    def add_result(self, **row):
        """One accuracy row (schema: result row); returns the stored dict."""
        kind = "add_result"
        _check_fields(kind, row, self._RESULT_REQUIRED, self._RESULT_OPTIONAL)
        out = {"model": _str(kind, "model", row["model"]), "attack": _str(kind, "attack", row["attack"])}
        params = row.get("params") or {}
        if not isinstance(params, dict):
            raise _fail(kind, "params", "must be a dict", params)
        out["params"] = _jsonable(params, "add_result: params")
        out["accuracy"] = _float(kind, "accuracy", row["accuracy"], 0.0, 1.0)
        out["trials"] = _int(kind, "trials", row["trials"], 1)
        if row.get("std") is None and out["trials"] > 1:
            raise _fail(kind, "std", f"is required when trials > 1 (trials={out['trials']})", given=False)
        out["std"] = _float(kind, "std", row.get("std") or 0.0, 0.0)
        if out["trials"] == 1 and out["std"] != 0.0:
            raise _fail(kind, "std", "must be 0 for 1 trial", out["std"])
        out["eot"] = _int(kind, "eot", row["eot"], 1)
        out["bpda"] = _bool(kind, "bpda", row["bpda"])
        out["seed"] = _int(kind, "seed", row["seed"])
        out["seconds"] = _float(kind, "seconds", row["seconds"], 0.0)
        out["num_examples"] = _int(kind, "num_examples", row["num_examples"], 1)
        _optional_str(kind, row, out, ("defense", "suite", "notes", "noise", "eot_mode"))
        for field, choices in self._CHOICES.items():
            if field in out and out[field] not in choices:
                raise _fail(kind, field, f"must be one of {', '.join(choices)}", out[field])
        if row.get("votes") is not None:
            out["votes"] = _int(kind, "votes", row["votes"], 1)
        if row.get("l2_distortion") is not None:
            out["l2_distortion"] = _float(kind, "l2_distortion", row["l2_distortion"], 0.0)
        self._data["results"].append(out)
        return copy.deepcopy(out)

    def add_curve(self, **curve):
        """One line of a plot (schema: curve); same ``name`` = same PNG."""
        kind = "add_curve"
        _check_fields(kind, curve, ("name", "model", "x_label", "y_label", "x", "y"), ("std", "series", "paper"))
        out = {k: _str(kind, k, curve[k]) for k in ("name", "model", "x_label", "y_label")}
        out["x"] = _float_list(kind, "x", curve["x"])
        out["y"] = _float_list(kind, "y", curve["y"], len(out["x"]))
        if curve.get("std") is not None:
            out["std"] = _float_list(kind, "std", curve["std"], len(out["x"]))
            if any(s < 0 for s in out["std"]):
                raise _fail(kind, "std", "must be >= 0 everywhere", out["std"])
        _optional_str(kind, curve, out, ("series", "paper"))
        self._data["curves"].append(out)
        return copy.deepcopy(out)

    def add_matrix(self, **matrix):
        """A 2-D table of numbers, e.g. a transfer matrix (schema: matrix)."""
        kind = "add_matrix"
        _check_fields(kind, matrix, ("name", "row_label", "col_label", "rows", "cols", "values"),
                      ("model", "paper"))
        out = {k: _str(kind, k, matrix[k]) for k in ("name", "row_label", "col_label")}
        out["rows"] = _str_list(kind, "rows", matrix["rows"])
        out["cols"] = _str_list(kind, "cols", matrix["cols"])
        values = matrix["values"]
        values = values.tolist() if isinstance(values, np.ndarray) else values
        if not isinstance(values, (list, tuple)) or len(values) != len(out["rows"]):
            raise _fail(kind, "values", f"must be a list of {len(out['rows'])} rows (one per entry of rows)",
                        values)
        out["values"] = [_float_list(kind, f"values[{i}]", r, len(out["cols"])) for i, r in enumerate(values)]
        _optional_str(kind, matrix, out, ("model", "paper"))
        self._data["matrices"].append(out)
        return copy.deepcopy(out)

    def add_check(self, **check):
        """A pass/fail check with the numbers behind it (schema: check)."""
        kind = "add_check"
        _check_fields(kind, check, ("name", "passed", "numbers", "explanation"), ("model", "paper"))
        if not isinstance(check["numbers"], dict):
            raise _fail(kind, "numbers", "must be a dict", check["numbers"])
        out = {"name": _str(kind, "name", check["name"]), "passed": _bool(kind, "passed", check["passed"]),
               "numbers": _jsonable(check["numbers"], "add_check: numbers"),
               "explanation": _str(kind, "explanation", check["explanation"])}
        _optional_str(kind, check, out, ("model", "paper"))
        self._data["checks"].append(out)
        return copy.deepcopy(out)

    def add_histogram(self, **hist):
        """Values to histogram (schema: histogram); same ``name`` = overlaid on one PNG."""
        kind = "add_histogram"
        _check_fields(kind, hist, ("name", "model", "series", "values", "x_label"), ("paper",))
        out = {k: _str(kind, k, hist[k]) for k in ("name", "model", "series", "x_label")}
        out["values"] = _float_list(kind, "values", hist["values"])
        if not out["values"]:
            raise _fail(kind, "values", "must not be empty", given=False)
        if hist.get("paper") is not None:
            out["paper"] = _str(kind, "paper", hist["paper"])
        self._data["histograms"].append(out)
        return copy.deepcopy(out)

    def add_image_grid(self, **grid):
        """A grid of images in [0, 1] (schema: image grid), e.g. inputs and their saliency maps."""
        kind = "add_image_grid"
        _check_fields(kind, grid, ("name", "images"), ("row_labels", "col_labels", "paper"))
        out = {"name": _str(kind, "name", grid["name"])}
        rows = grid["images"]
        if isinstance(rows, np.ndarray):
            rows = list(rows)
        if not isinstance(rows, (list, tuple)) or not rows or not all(
                isinstance(r, (list, tuple, np.ndarray)) and len(r) for r in rows):
            raise _fail(kind, "images", "must be a non-empty list of non-empty rows of images", type(rows).__name__)
        ncols = len(rows[0])
        images = []
        for i, row in enumerate(rows):
            if len(row) != ncols:
                raise _fail(kind, f"images[{i}]", f"must have {ncols} images like row 0; it has {len(row)}",
                            given=False)
            out_row = []
            for j, img in enumerate(row):
                where = f"images[{i}][{j}]"
                try:
                    a = np.asarray(img, dtype=np.float64)
                except (TypeError, ValueError):
                    raise _fail(kind, where, "must be an HxW or HxWxC array of floats", type(img).__name__) from None
                if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (1, 3))):
                    raise _fail(kind, where, "must have shape HxW, HxWx1 or HxWx3", a.shape)
                if not np.all(np.isfinite(a)) or a.min() < -1e-6 or a.max() > 1 + 1e-6:
                    raise _fail(kind, where, "must hold finite values in [0, 1]",
                                f"min {np.nanmin(a):.4g}, max {np.nanmax(a):.4g}")
                out_row.append(np.round(np.clip(a, 0.0, 1.0), 4).tolist())
            images.append(out_row)
        out["images"] = images
        for field, n in (("row_labels", len(images)), ("col_labels", ncols)):
            if grid.get(field) is not None:
                out[field] = _str_list(kind, field, grid[field], n)
        if grid.get("paper") is not None:
            out["paper"] = _str(kind, "paper", grid["paper"])
        self._data["image_grids"].append(out)
        return {"name": out["name"]}

    # -- reading --------------------------------------------------------------------------------

    @property
    def results(self):
        return copy.deepcopy(self._data["results"])

    def to_dict(self):
        """The report as plain JSON-able dicts (a deep copy; schema: docs/REPORT_SCHEMA.md)."""
        data = copy.deepcopy(self._data)
        data["plots"] = [file for file, _, _ in _plot_plan(data)]
        return {k: data[k] for k in TOP_LEVEL_KEYS}

    # -- writing --------------------------------------------------------------------------------

    def write(self, report_dir):
        """Write the PNGs, report.md, then report.json into ``report_dir`` (created), each atomically.

        Returns ``{"json": path, "markdown": path, "plots": [paths]}``.
        """
        report_dir = str(report_dir)
        os.makedirs(report_dir, exist_ok=True)
        data = self.to_dict()
        plots = []
        for file, kind, items in _plot_plan(data):
            fig = _PLOTTERS[kind](items)
            path = os.path.join(report_dir, file)
            _atomic_write(path, lambda f, fig=fig: fig.savefig(f, format="png", dpi=DPI), binary=True)
            plots.append(path)
        md_path = os.path.join(report_dir, MARKDOWN_NAME)
        _atomic_write(md_path, lambda f: f.write(render_markdown(data)))
        json_path = os.path.join(report_dir, JSON_NAME)
        _atomic_write(json_path, lambda f: json.dump(data, f, indent=1, allow_nan=False, ensure_ascii=False))
        return {"json": json_path, "markdown": md_path, "plots": plots}
