"""Report files: ``load`` (a report.json back as a dict) and ``_atomic_write`` (temp file beside the
target, then ``os.replace``)."""
import json
import os
import tempfile

from eval.report.validate import JSON_NAME, SCHEMA_VERSION, TOP_LEVEL_KEYS


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
