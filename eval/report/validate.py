"""Report validation: the schema constants and the field checks of ``Report.add_*`` (each error is one line
naming the field, what was expected and what was given), and ``_jsonable`` for the free-form dicts.
The schema itself: docs/REPORT_SCHEMA.md."""
import math
import numbers

import numpy as np

SCHEMA_VERSION = 1
JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
TOP_LEVEL_KEYS = ("schema_version", "meta", "results", "curves", "matrices", "checks", "histograms",
                  "image_grids", "plots")


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


def _optional_str(kind, given, out, fields):
    """Copy each of ``fields`` that ``given`` sets (not None) into ``out``, checked as a non-empty string."""
    for field in fields:
        if given.get(field) is not None:
            out[field] = _str(kind, field, given[field])
    return out


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
