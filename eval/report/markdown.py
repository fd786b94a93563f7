"""Report formatting (accuracies, attack parameters, numbers) and ``render_markdown``: report.md from a
report dict."""
import numbers

import numpy as np

from eval.report.layout import _is_fraction_matrix, _plot_plan, _title

# Parameters measured in pixel units (rendered as k/255): any key containing "eps", plus these.
_PIXEL_KEYS = {"alpha", "step_size", "epsilon"}


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
    """Short form of attack parameters: 'eps=8/255 step_size=2/255 steps=20' ('—' when empty)."""
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


def _fmt_matrix_value(v, percent):
    return f"{100 * v:.2f} %" if percent else f"{v:.4g}"


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
