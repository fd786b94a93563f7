"""The eval report: plain dicts written as ``report.json`` (the schema below), ``report.md`` (tables a
person reads) and PNG plots. No TensorFlow here: a baseline report can be read with numpy and
matplotlib alone.

    report = Report(meta={"models": ["pni_w"], "dataset": "cifar10", "split": "test", ...})
    report.add_result(model="pni_w", attack="pgd", params={"eps": 8 / 255, "nb_iter": 20},
                      accuracy=0.4594, std=0.0011, trials=5, eot=8, bpda=False, seed=0,
                      seconds=812.4, num_examples=500)
    paths = report.write("reports/latest")   # {"json": ..., "markdown": ..., "plots": [...]}
    baseline = load("reports/baseline/report.json")

Schema of ``report.json`` (``schema_version`` 1)
================================================

Top level::

    {"schema_version": 1, "meta": {...}, "results": [...], "curves": [...], "matrices": [...],
     "checks": [...], "histograms": [...], "image_grids": [...], "plots": [...]}

``meta`` (dict, free form; keys the Markdown knows): ``command`` (command line), ``models``,
``dataset``, ``split``, ``num_examples``, ``seed``, ``suites``, ``started_at``, ``versions``.

``plots``: the PNG file names written beside ``report.json`` (relative), one per curve ``name``, one
per matrix, one per histogram ``name``, one per image grid, in that order.

result row (one accuracy number, ``add_result``):

- ``model`` (str)
- ``attack`` (str, ``"clean"`` for no attack)
- ``params`` (dict, attack parameters; default ``{}``)
- ``accuracy`` (float in [0, 1], mean over trials)
- ``std`` (float >= 0, std over trials; 0 for 1 trial, may be omitted then)
- ``trials`` (int >= 1)
- ``eot`` (int >= 1, samples per gradient; 1 = none)
- ``bpda`` (bool)
- ``seed`` (int)
- ``seconds`` (float >= 0)
- ``num_examples`` (int >= 1)
- optional ``defense`` (str, e.g. ``"majority_vote"``), with ``votes`` (int >= 1, passes of the vote)
- optional ``noise`` (``"on"``: predicted and attacked as served; ``"off"``: every noise source off
  for both, PNI Table 2 "test without PNI"; the model label then ends in ``(noise off)``)
- optional ``eot_mode`` (``"gradient"``: mean of per-draw loss gradients, Athalye et al.;
  ``"logits"``: gradient of the loss of averaged logits), given when ``eot`` > 1
- optional ``l2_distortion`` (float >= 0, mean L2 of successful adversarial examples, PNI Table 4)
- optional ``suite`` (str)
- optional ``notes`` (str)

curve (``add_curve``; curves with the same ``name`` share one PNG, one line per model/series):

- ``name`` (str, e.g. ``"accuracy_vs_eps"``), ``model`` (str), ``x_label`` (str), ``y_label`` (str)
- ``x`` (list of numbers), ``y`` (list of numbers, same length)
- optional ``std`` (list, same length; drawn as error bars and a shaded band)
- optional ``series`` (str, the legend label; default ``model``)
- optional ``paper`` (str, reference, e.g. ``"PNI Fig. 3"``)

matrix (``add_matrix``; PNG as an annotated heatmap):

- ``name`` (str, e.g. ``"transfer_matrix"``), ``row_label`` (str), ``col_label`` (str)
- ``rows`` (list of str), ``cols`` (list of str), ``values`` (2-D list of floats, len(rows) x len(cols))
- optional ``model`` (str), optional ``paper`` (str)

check (``add_check``, e.g. a gradient-obfuscation check):

- ``name`` (str), ``passed`` (bool), ``numbers`` (dict), ``explanation`` (str)
- optional ``model`` (str), optional ``paper`` (str)

histogram (``add_histogram``; histograms with the same ``name`` overlay on one PNG):

- ``name`` (str), ``model`` (str), ``series`` (str, legend label), ``values`` (list of floats),
  ``x_label`` (str), optional ``paper`` (str)

image grid (``add_image_grid``, e.g. saliency maps):

- ``name`` (str), ``images`` (list of rows, each a list of HxWxC (C = 1 or 3) or HxW images with
  values in [0, 1]; every row the same length; stored rounded to 4 decimals)
- optional ``row_labels`` (list of str, one per row), optional ``col_labels`` (list of str, one per
  column), optional ``paper`` (str)

Conventions: numbers are JSON numbers and must be finite in the typed fields above (a NaN accuracy
is refused when added, with the field named); inside the free-form dicts (``meta``, ``params``,
``numbers``) numpy values become plain JSON and non-finite floats are stored as the strings
``"nan"``, ``"inf"``, ``"-inf"`` (strict JSON has no NaN). Unknown fields are refused, so a typo
cannot silently drop a number. Readers must ignore keys they do not know; a change that removes or
renames a key bumps ``schema_version``.

Markdown shows accuracies as percentages with 2 decimals (``format_accuracy``), ``eps``-like
parameters that are multiples of 1/255 as ``k/255``, check numbers whose key contains ``acc`` as
percentages, and matrix values as percentages when they all
lie in [0, 1] (accuracies, rates), otherwise with 4 significant digits.

Every file is written atomically (temp file in the same directory, then ``os.replace``); plots and
``report.md`` are written before ``report.json``, so a present ``report.json`` means a complete report.
"""
import copy
import json
import math
import numbers
import os
import re
import sys
import tempfile

import numpy as np

SCHEMA_VERSION = 1
JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
DPI = 100
TOP_LEVEL_KEYS = ("schema_version", "meta", "results", "curves", "matrices", "checks", "histograms",
                  "image_grids", "plots")

# Parameters measured in pixel units (rendered as k/255): any key containing "eps", plus these.
_PIXEL_KEYS = {"alpha", "step_size", "epsilon"}


# ----------------------------------------------------------------------------------------------
# Validation: each error is one line naming the field, what was expected and what was given.

def _fail(kind, field, expected, value=None, given=True):
    got = f"; got {value!r}" if given else ""
    return ValueError(f"Report.{kind}: field '{field}' {expected}{got}"[:500].replace("\n", " "))


def _check_fields(kind, fields, required, optional):
    missing = [f for f in required if f not in fields]
    if missing:
        raise _fail(kind, missing[0], "is missing (required: " + ", ".join(required) + ")"
                    f"; got fields: {', '.join(sorted(fields)) or 'none'}", given=False)
    unknown = sorted(set(fields) - set(required) - set(optional))
    if unknown:
        raise _fail(kind, unknown[0], "is not in the schema (known: "
                    + ", ".join(list(required) + list(optional)) + ")", given=False)


def _str(kind, field, value):
    if not isinstance(value, str) or not value:
        raise _fail(kind, field, "must be a non-empty string", value)
    return value


def _bool(kind, field, value):
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(kind, field, "must be a bool", value)
    return bool(value)


def _int(kind, field, value, minimum=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _fail(kind, field, "must be an int", value)
    value = int(value)
    if minimum is not None and value < minimum:
        raise _fail(kind, field, f"must be >= {minimum}", value)
    return value


def _float(kind, field, value, lo=None, hi=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _fail(kind, field, "must be a number", value)
    value = float(value)
    if not math.isfinite(value):
        raise _fail(kind, field, "must be finite", value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise _fail(kind, field, f"must be a float {bounds}", value)
    return value


def _float_list(kind, field, value, length=None):
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise _fail(kind, field, "must be a list of numbers", value)
    out = [_float(kind, f"{field}[{i}]", v) for i, v in enumerate(value)]
    if length is not None and len(out) != length:
        raise _fail(kind, field, f"must have {length} entries like x; it has {len(out)}", given=False)
    return out


def _str_list(kind, field, value, length=None):
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise _fail(kind, field, "must be a list of strings", value)
    if length is not None and len(value) != length:
        raise _fail(kind, field, f"must have {length} entries; it has {len(value)}", given=False)
    return list(value)


def _jsonable(value, where):
    """Plain JSON (dict/list/str/int/float/bool/None); non-finite floats become 'nan'/'inf'/'-inf'."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        items = value.tolist() if isinstance(value, np.ndarray) else value
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(items)]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    raise ValueError(f"Report: {where} holds a {type(value).__name__} ({value!r:.80}); expected JSON "
                     "values (dict, list, str, number, bool, None)")


# ----------------------------------------------------------------------------------------------
# Formatting

def format_accuracy(acc, std=0.0, trials=1):
    """'45.94 ± 0.11 % (5 trials)' for trials > 1, '83.84 %' otherwise (accuracy in [0, 1])."""
    if trials is not None and trials > 1:
        return f"{100 * acc:.2f} ± {100 * (std or 0.0):.2f} % ({int(trials)} trials)"
    return f"{100 * acc:.2f} %"


def _fmt_number(v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return str(v)
    if isinstance(v, numbers.Integral):
        return str(int(v))
    return f"{float(v):.4g}"


def _fmt_pixel(v):
    """8/255 for multiples of 1/255 strictly between 0 and 1, else the number."""
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        k = round(float(v) * 255)
        if 0 < k < 255 and abs(float(v) * 255 - k) < 1e-6:
            return f"{k}/255"
    return _fmt_number(v)


def _fmt_param(key, value):
    fmt = _fmt_pixel if ("eps" in key.lower() or key.lower() in _PIXEL_KEYS) else _fmt_number
    if isinstance(value, list):
        return "[" + ",".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + " ".join(f"{k}={_fmt_param(k, v)}" for k, v in value.items()) + "}"
    return fmt(value)


def format_params(params):
    """Short form of attack parameters: 'eps=8/255 eps_iter=2/255 nb_iter=20' ('—' when empty)."""
    return " ".join(f"{k}={_fmt_param(k, v)}" for k, v in (params or {}).items()) or "—"


def _fmt_free(value):
    if isinstance(value, list):
        return "[" + ", ".join(_fmt_free(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt_free(v)}" for k, v in value.items())
    if value is None:
        return "—"
    return _fmt_number(value)


def _fmt_check_number(key, value):
    """Accuracies (keys containing 'acc', values in [0, 1]) as percentages, the rest as numbers."""
    if "acc" in key.lower():
        if isinstance(value, list):
            return "[" + ", ".join(_fmt_check_number(key, v) for v in value) + "]"
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value <= 1:
            return f"{100 * value:.2f} %"
    return _fmt_free(value)


def _cell(text):
    return str(text).replace("\n", " ").replace("|", "\\|")


def _table(header, rows):
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _is_fraction_matrix(values):
    return all(0.0 <= v <= 1.0 for row in values for v in row)


def _fmt_matrix_value(v, percent):
    return f"{100 * v:.2f} %" if percent else f"{v:.4g}"


def _title(item):
    title = item["name"].replace("_", " ")
    return f"{title} ({item['model']})" if item.get("model") else title


def _sanitise(name):
    return re.sub(r"[^a-z0-9._-]+", "_", name.lower()).strip("._-") or "plot"


# ----------------------------------------------------------------------------------------------

def _plot_plan(data):
    """[(file name, kind, items)] in a fixed order: curve groups, matrices, histogram groups, grids."""
    plan, used = [], set()

    def file_for(stem):
        stem, n = _sanitise(stem), 2
        name = stem
        while name in used:
            name, n = f"{stem}_{n}", n + 1
        used.add(name)
        return name + ".png"

    for kind, key in (("curve", "curves"), ("matrix", "matrices"), ("histogram", "histograms"),
                      ("grid", "image_grids")):
        if kind in ("curve", "histogram"):
            groups = {}
            for item in data.get(key, []):
                groups.setdefault(item["name"], []).append(item)
            for name, items in groups.items():
                plan.append((file_for(name), kind, items))
        else:
            for item in data.get(key, []):
                stem = f"{item['name']}_{item['model']}" if item.get("model") else item["name"]
                plan.append((file_for(stem), kind, [item]))
    return plan


class Report:
    """Accumulates result rows, curves, matrices, checks, histograms and image grids; ``write``
    turns them into report.json, report.md and PNGs (schema in the module docstring)."""

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
        for field in ("defense", "suite", "notes", "noise", "eot_mode"):
            if row.get(field) is not None:
                out[field] = _str(kind, field, row[field])
                if field in self._CHOICES and out[field] not in self._CHOICES[field]:
                    raise _fail(kind, field, f"must be one of {', '.join(self._CHOICES[field])}", out[field])
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
        for field in ("series", "paper"):
            if curve.get(field) is not None:
                out[field] = _str(kind, field, curve[field])
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
        for field in ("model", "paper"):
            if matrix.get(field) is not None:
                out[field] = _str(kind, field, matrix[field])
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
        for field in ("model", "paper"):
            if check.get(field) is not None:
                out[field] = _str(kind, field, check[field])
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
        """The report as plain JSON-able dicts (a deep copy; schema in the module docstring)."""
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


def load(path):
    """Read a report.json (or a directory holding one) back as a dict, e.g. a baseline report."""
    path = str(path)
    if os.path.isdir(path):
        path = os.path.join(path, JSON_NAME)
    if not os.path.isfile(path):
        raise ValueError(f"report {path}: no such file (expected a report.json written by eval.report)")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"report {path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ValueError(f"report {path}: no schema_version (expected a report.json written by eval.report)")
    if not isinstance(data["schema_version"], int) or data["schema_version"] > SCHEMA_VERSION:
        raise ValueError(f"report {path}: schema_version {data['schema_version']!r} is newer than this code "
                         f"reads ({SCHEMA_VERSION})")
    missing = [k for k in TOP_LEVEL_KEYS if k not in data]
    if missing:
        raise ValueError(f"report {path}: missing keys {', '.join(missing)}")
    return data


def _atomic_write(path, writer, binary=False):
    """writer(file) into a temp file beside ``path``, then os.replace; the temp file never outlives a failure."""
    directory, base = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")) as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ----------------------------------------------------------------------------------------------
# Markdown

_META_LABELS = (("models", "Models"), ("dataset", "Dataset"), ("num_examples", "Examples"), ("seed", "Seed"),
                ("suites", "Suites"), ("started_at", "Started"), ("finished_at", "Finished"),
                ("versions", "Versions"))
_COMMAND_KEYS = ("command", "command_line", "argv")


def _meta_value(key, value):
    if key == "models" and isinstance(value, list):
        return ", ".join(v.get("name", str(v)) if isinstance(v, dict) else str(v) for v in value)
    if key == "versions" and isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_fmt_free(v) for v in value)
    return _fmt_free(value)


def render_markdown(data):
    """report.md text from a report dict (``Report.to_dict()`` or ``load(...)``)."""
    meta = data.get("meta", {})
    lines = ["# Robustness evaluation report", ""]
    shown = set(_COMMAND_KEYS) | {"split"}
    for key, label in _META_LABELS:
        if key not in meta:
            continue
        shown.add(key)
        value = _meta_value(key, meta[key])
        if key == "dataset" and meta.get("split"):
            value += f" ({meta['split']} split)"
        lines.append(f"- **{label}:** {value}")
    for key, value in meta.items():
        if key not in shown:
            lines.append(f"- **{key}:** {_meta_value(key, value)}")
    total = sum(r["seconds"] for r in data.get("results", []))
    if data.get("results"):
        lines.append(f"- **Attack time:** {total:.1f} s over {len(data['results'])} results")
    command = next((meta[k] for k in _COMMAND_KEYS if meta.get(k)), None)
    if command:
        command = " ".join(command) if isinstance(command, list) else str(command)
        lines += ["", "```", command, "```"]
    lines.append("")

    results = data.get("results", [])
    if results:
        lines += ["## Results", "",
                  "Accuracy on the evaluated examples; random models: mean ± std over trials. "
                  "EOT = samples per gradient (1 = none; gradient: mean of per-draw loss gradients, "
                  "logits: gradient of the loss of averaged logits); BPDA = identity backward through "
                  "non-differentiable parts.", ""]
        by_model = {}
        for r in results:
            by_model.setdefault(r["model"], []).append(r)
        noise_off = any(r.get("noise") == "off" for r in results)
        if noise_off:
            lines += ["Noise off = every noise source off for prediction and attack alike (PNI Table 2, "
                      "\"test without PNI\"); those models are listed as \"<name> (noise off)\".", ""]
        for model, rows in by_model.items():
            extra = [(f, h) for f, h in (("noise", "Noise"), ("defense", "Defense"), ("l2_distortion", "L2 distortion"),
                                         ("notes", "Notes"))
                     if any(f in r for r in rows) and (f != "noise" or noise_off)]
            show_n = any(r["num_examples"] != meta.get("num_examples") for r in rows)
            header = ["Attack", "Parameters", "Accuracy", "EOT", "BPDA"] + [h for _, h in extra]
            header += ["Examples"] if show_n else []
            header += ["Seconds"]
            table = []
            for r in rows:
                eot = str(r["eot"]) + (f" ({r['eot_mode']})" if r.get("eot_mode") else "")
                cells = [r["attack"], format_params(r["params"]), format_accuracy(r["accuracy"], r["std"], r["trials"]),
                         eot, "yes" if r["bpda"] else "no"]
                for field, _ in extra:
                    v = r.get(field)
                    if field == "defense" and v and r.get("votes"):
                        v = f"{v} ({r['votes']} votes)"
                    cells.append("—" if v is None else (f"{v:.4f}" if field == "l2_distortion" else v))
                cells += [str(r["num_examples"])] if show_n else []
                cells.append(f"{r['seconds']:.1f}")
                table.append(cells)
            lines += [f"### {model}", ""] + _table(header, table) + [""]

    checks = data.get("checks", [])
    if checks:
        passed = sum(c["passed"] for c in checks)
        lines += ["## Checks", "", f"{passed} of {len(checks)} passed.", ""]
        table = [["✅ pass" if c["passed"] else "❌ FAIL", c.get("model", "—"), c["name"],
                  ", ".join(f"{k}={_fmt_check_number(k, v)}" for k, v in c["numbers"].items()) or "—",
                  c["explanation"], c.get("paper", "")] for c in checks]
        lines += _table(["Result", "Model", "Check", "Numbers", "Why it matters", "Paper"], table) + [""]

    matrices = data.get("matrices", [])
    if matrices:
        lines += ["## Matrices", ""]
        for m in matrices:
            percent = _is_fraction_matrix(m["values"])
            lines += [f"### {_title(m)}", ""]
            if m.get("paper"):
                lines += [f"Paper: {m['paper']}.", ""]
            lines += [f"Rows: {m['row_label']}; columns: {m['col_label']}."
                      + (" Values in %." if percent else ""), ""]
            table = [[r] + [_fmt_matrix_value(v, percent) for v in vals] for r, vals in zip(m["rows"], m["values"])]
            lines += _table([f"{m['row_label']} \\ {m['col_label']}"] + m["cols"], table) + [""]

    plots = data.get("plots", [])
    if plots:
        lines += ["## Plots", ""]
        for file, kind, items in _plot_plan(data):
            papers = sorted({i["paper"] for i in items if i.get("paper")})
            title = _title(items[0]) if kind in ("matrix", "grid") else items[0]["name"].replace("_", " ")
            lines += [f"### {title}", ""]
            if papers:
                lines += ["Paper: " + "; ".join(papers) + ".", ""]
            lines += [f"![{items[0]['name']}]({file})", ""]
            if kind == "histogram":
                table = [[h["model"], h["series"], str(len(h["values"])), _fmt_number(float(np.mean(h["values"]))),
                          _fmt_number(float(np.median(h["values"]))), _fmt_number(min(h["values"])),
                          _fmt_number(max(h["values"]))] for h in items]
                lines += _table(["Model", "Series", "n", "Mean", "Median", "Min", "Max"], table) + [""]
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------------------------
# Plots: the object-oriented matplotlib API on an Agg canvas (no pyplot, no global backend state,
# no figures left open).

def _figure(size):
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # headless default; never switch the backend of a session using pyplot
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _suptitle(items, title):
    papers = sorted({i["paper"] for i in items if i.get("paper")})
    return title + ("\n" + "; ".join(papers) if papers else "")


def _joined(items, key):
    return " / ".join(dict.fromkeys(i[key] for i in items))


def _plot_curves(curves):
    fig = _figure((7, 4.5))
    ax = fig.add_subplot()
    handles = []
    for c in curves:
        label = c.get("series") or c["model"]
        if len({c["model"] for c in curves}) > 1 and c.get("series") and c["series"] != c["model"]:
            label = f"{c['model']}: {c['series']}"
        x, y = np.asarray(c["x"]), np.asarray(c["y"])
        if "std" in c:
            s = np.asarray(c["std"])
            handle = ax.errorbar(x, y, yerr=s, marker="o", markersize=4, capsize=3, label=label)
            ax.fill_between(x, y - s, y + s, alpha=0.15, color=handle.lines[0].get_color(), linewidth=0)
        else:
            handle, = ax.plot(x, y, marker="o", markersize=4, label=label)
        handles.append(handle)
    ax.set_xlabel(_joined(curves, "x_label"))
    ax.set_ylabel(_joined(curves, "y_label"))
    ax.set_title(_suptitle(curves, curves[0]["name"].replace("_", " ")))
    ax.grid(True, alpha=0.3)
    if len(curves) > 1:
        ax.legend(handles=handles, fontsize=8)  # in the order the curves were added
    return fig


def _plot_matrix(items):
    m = items[0]
    values = np.asarray(m["values"], dtype=float)
    percent = _is_fraction_matrix(m["values"])
    shown = 100 * values if percent else values
    nr, nc = values.shape
    fig = _figure((max(4.5, 1.1 * nc + 2.5), max(3.5, 0.6 * nr + 2.0)))
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap="viridis", aspect="auto",
                      **({"vmin": 0, "vmax": 100} if percent else {}))
    fig.colorbar(image, ax=ax, label="%" if percent else None)
    lo, hi = image.get_clim()
    for i in range(nr):
        for j in range(nc):
            dark = (shown[i, j] - lo) / ((hi - lo) or 1) < 0.6
            ax.text(j, i, f"{shown[i, j]:.2f}" if percent else f"{shown[i, j]:.3g}", ha="center",
                    va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(nc), m["cols"], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(nr), m["rows"], fontsize=8)
    ax.set_xlabel(m["col_label"])
    ax.set_ylabel(m["row_label"])
    ax.set_title(_suptitle(items, _title(m) + (" (%)" if percent else "")))
    return fig


def _plot_histograms(hists):
    fig = _figure((7, 4.5))
    ax = fig.add_subplot()
    edges = np.histogram_bin_edges(np.concatenate([h["values"] for h in hists]), bins=30)
    multi_model = len({h["model"] for h in hists}) > 1
    for h in hists:
        label = f"{h['model']}: {h['series']}" if multi_model and h["series"] != h["model"] else h["series"]
        ax.hist(h["values"], bins=edges, alpha=0.5, label=label, edgecolor="none")
    ax.set_xlabel(_joined(hists, "x_label"))
    ax.set_ylabel("count")
    ax.set_title(_suptitle(hists, hists[0]["name"].replace("_", " ")))
    if len(hists) > 1:
        ax.legend(fontsize=8)
    return fig


def _plot_grid(items):
    g = items[0]
    rows, ncols = g["images"], len(g["images"][0])
    fig = _figure((1.6 * ncols + 0.8, 1.6 * len(rows) + 0.8))
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            a = np.asarray(img)
            ax = axes[i][j]
            if a.ndim == 3 and a.shape[-1] == 1:
                a = a[..., 0]
            ax.imshow(a, vmin=0, vmax=1, cmap="gray" if a.ndim == 2 else None, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 and g.get("col_labels"):
                ax.set_title(g["col_labels"][j], fontsize=9)
            if j == 0 and g.get("row_labels"):
                ax.set_ylabel(g["row_labels"][i], fontsize=9)
    fig.suptitle(_suptitle(items, g["name"].replace("_", " ")))
    return fig


_PLOTTERS = {"curve": _plot_curves, "matrix": _plot_matrix, "histogram": _plot_histograms, "grid": _plot_grid}
