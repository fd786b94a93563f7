"""The board: rows read from each model's eval report, mCE / mFR against the baseline, and the outputs.

``rows(reports, protocol, baseline)`` turns the per-model ``report.json`` dicts into board rows (one per
model, plus ``noise="off"`` for random models); ``markdown``, ``to_json``, ``write_cards`` and
``write_plots`` write the same rows, formatted by ``cell``, so the Markdown table, the JSON and the model
cards agree.
"""
import json
import os
import re

import numpy as np

from eval.leaderboard.papers import MISSING, PAPER, paper_value
from eval.leaderboard.protocol import CLEAN_SUITE, KEY

BEGIN, END = "<!-- leaderboard:begin -->", "<!-- leaderboard:end -->"


def columns(protocol):
    """[(key, header)] of the table; ``pgd-<k>`` per table step count."""
    pgd = [(f"pgd-{k}", f"PGD-{k}") for k in protocol.steps]
    return ([("clean", "clean"), ("fgsm", "FGSM")] + pgd +
            [("cw_acc", "C&W acc"), ("cw_l2", "C&W L2"), ("mCE", "mCE"), ("relative_mCE", "rel. mCE"),
             ("mFR", "mFR"), ("W_f", "W_f"), ("seconds", "eval time")])


def _acc(row):
    return {"accuracy": row["accuracy"], "std": row.get("std", 0.0), "trials": row["trials"],
            "eot": row["eot"], "num_examples": row["num_examples"]}


def _find(results, label, attack, suite=None, **params):
    for r in results:
        if r["model"] != label or r["attack"] != attack or r.get("defense"):
            continue
        if suite is not None and (r.get("suite") == CLEAN_SUITE) != (suite == CLEAN_SUITE):
            continue
        if all(abs(float(r["params"].get(k, -1)) - v) < 1e-9 for k, v in params.items()):
            return r
    return None


def _matrix(report, name, model=None):
    for m in report["matrices"]:
        if m["name"] == name and (model is None or m.get("model") == model or model in m.get("rows", [])):
            return m
    return None


def _subset_clean(report, name):
    row = _find(report["results"], name, "clean", suite="subset")
    return row["accuracy"] if row else None


def corruption_scores(report, name, base_report, base_name):
    """(mCE, relative mCE) in % of the baseline (``eval.metrics.corruption.ce_scores``, as the corruption suite)."""
    from eval.corruptions import BENCHMARK
    from eval.metrics.corruption import ce_scores
    own, base = _matrix(report, "corruption_error", name), _matrix(base_report, "corruption_error", base_name)
    acc, base_acc = _subset_clean(report, name), _subset_clean(base_report, base_name)
    if own is None or base is None or acc is None or base_acc is None:
        return None, None
    s = ce_scores(dict(zip(own["rows"], own["values"])), 1 - acc, dict(zip(base["rows"], base["values"])),
                  1 - base_acc, BENCHMARK)
    return _finite(s["mCE"]), _finite(s["relative_mCE"])


def flip_scores(report, name, base_report, base_name):
    """mFR in % of the baseline (``eval.metrics.corruption.fr_scores``, as the perturbation_seq suite)."""
    from eval.metrics.corruption import fr_scores
    own, base = _matrix(report, "flip_probability", name), _matrix(base_report, "flip_probability", base_name)
    if own is None or base is None:
        return None
    return _finite(fr_scores(dict(zip(own["cols"], own["values"][0])), dict(zip(base["cols"], base["values"][0])),
                             own["cols"])["mFR"])


def _finite(v):
    return float(v) if v is not None and np.isfinite(v) else None


def _paper(name, noise, protocol):
    out = {}
    for metric in ("clean", "fgsm", "cw_acc", "cw_l2", "mCE", "relative_mCE", "mFR", "W_f"):
        if paper_value(name, noise, metric):
            out[metric] = list(paper_value(name, noise, metric))
    if paper_value(name, noise, "pgd"):  # the paper's PGD sits in the first PGD column (its setting is noted)
        out[f"pgd-{protocol.steps[0]}"] = list(paper_value(name, noise, "pgd"))
    return out


def rows(reports, protocol, baseline):
    """Board rows: {model, noise, label, cells: {column key: value dict or number or None}, paper, ...}."""
    base_report = reports.get(baseline)
    out = []
    for name, report in reports.items():
        info = report["meta"][KEY]
        random = bool(report["meta"]["models"][name]["is_random"])
        for noise in (("on", "off") if random else ("on",)):
            label = name if noise == "on" else f"{name} (noise off)"
            res = report["results"]
            cells = {"clean": _find(res, label, "clean", suite=CLEAN_SUITE),
                     "fgsm": _find(res, label, "fgsm", eps=protocol.eps)}
            for k in protocol.steps:
                cells[f"pgd-{k}"] = _find(res, label, "pgd", eps=protocol.eps, steps=k)
            cw = _find(res, label, "cw_l2")
            cells["cw_acc"] = cw
            cells = {k: (_acc(v) if v else None) for k, v in cells.items()}
            cells["cw_l2"] = cw.get("l2_distortion") if cw else None
            cells.update(mCE=None, relative_mCE=None, mFR=None, W_f=None, seconds=None)
            if noise == "on":
                if base_report is not None:
                    cells["mCE"], cells["relative_mCE"] = corruption_scores(report, name, base_report, baseline)
                    cells["mFR"] = flip_scores(report, name, base_report, baseline)
                wf = _matrix(report, "worst_case_boundary_distance", name)
                cells["W_f"] = _finite(wf["values"][wf["rows"].index(name)][0]) if wf else None
                cells["seconds"] = info["seconds"]
            out.append({"model": name, "noise": noise, "label": label, "random": random and noise == "on",
                        "cells": cells, "paper": _paper(name, noise, protocol), "export": info["export"],
                        "cpu": info.get("cpu"), "version_dir": info["key"]["version_dir"],
                        "evaluated_at": report["meta"].get("started_at")})
    return out


def _pct(mean, std=None, random=False):
    text = f"{100 * mean:.2f}"
    return text + f" ± {100 * (std or 0.0):.2f}" if random else text


def cell(row, key):
    """The Markdown text of one cell: ``ours (paper)``, accuracies in %, ± std for random models."""
    v = row["cells"].get(key)
    if v is None:
        ours = ""
    elif isinstance(v, dict):
        ours = _pct(v["accuracy"], v["std"], v["trials"] > 1)
    elif key == "cw_l2":
        ours = f"{v:.3f}"
    elif key == "seconds":
        ours = f"{v:.0f} s"
    elif key == "W_f":
        ours = f"{v:.2f}"
    else:
        ours = f"{v:.1f}"
    paper = row["paper"].get(key)
    if paper:
        mean, std = paper
        text = f"{mean:g}" + (f" ± {std:g}" if std is not None else "")
        ours = f"{ours} ({text})" if ours else f"– ({text})"
    return ours


def table(board_rows, protocol):
    cols = columns(protocol)
    lines = ["| model | " + " | ".join(h for _, h in cols) + " |", "|---|" + "---|" * len(cols)]
    for row in board_rows:
        lines.append(f"| {row['label']} | " + " | ".join(cell(row, k) for k, _ in cols) + " |")
    return lines


def protocol_lines(protocol, baseline, plots="leaderboard/"):
    p = protocol
    e = f"{p.eps * 255:g}/255"
    trials = "eval's automatic settings (random models: EOT 8, mean ± std over 5 trials)" if p.trials is None and \
        p.eot is None else f"trials {p.trials or 'auto'}, EOT {p.eot or 'auto'} for random models"
    suites = set(p.suites)
    out = [f"- dataset `{p.dataset}` split `{p.split}`; clean accuracy on the first {p.clean_examples} images",
           f"- FGSM, PGD-{'/'.join(map(str, p.steps))} (L-inf, eps {e}, step {p.step_size * 255:g}/255, random start) "
           f"and C&W-L2 ({p.cw_iterations} iterations per binary-search step; accuracy and mean L2 of successful "
           f"examples) on the first {p.num_examples} images" if "whitebox" in suites else None,
           f"- random models: {trials}, BPDA for non-differentiable parts; noise-off rows: every noise source off "
           "for prediction and attack (PNI Table 2 'test without PNI'), one trial without EOT as a deterministic model",
           f"- mCE / relative mCE (CIFAR-10-C generated here, 15 benchmark corruptions x 5 severities, the same "
           f"{p.num_examples} images) in % of `{baseline}`" if "corruption" in suites else None,
           f"- mFR (CIFAR-10-P, {p.sequence_examples} images per perturbation) in % of `{baseline}`"
           if "perturbation_seq" in suites else None,
           f"- W_f: worst-case boundary distance (RMS, 0-255 scale, ANP eq. 3) over {2 * p.directions} rays on "
           f"{p.boundary_examples} images, noise off" if "boundary" in suites else None,
           f"- curves: accuracy vs eps (PGD-{p.eps_curve_steps}) and vs PGD steps "
           f"({', '.join(map(str, p.steps_list))}) in `{plots}`" if "whitebox" in suites else None,
           f"- seed {p.seed}, batch {p.batch_size}; protocol hash `{p.digest()}`"]
    return [line for line in out if line]


def _sources(names):
    out = []
    for name in names:
        if name in PAPER:
            out.append(f"- `{name}`: {PAPER[name]['source']} ({PAPER[name]['setting']})")
        elif name in MISSING:
            out.append(f"- `{name}`: no comparable paper number ({MISSING[name]})")
    return out


def markdown(board_rows, protocol, baseline, totals, pending, plots="leaderboard/"):
    names = list(dict.fromkeys(r["model"] for r in board_rows))
    cpus = sorted({r["cpu"] for r in board_rows if r.get("cpu")})
    lines = ["# Zoo leaderboard", "", "<!-- written by `python -m eval.leaderboard`; do not edit by hand -->", "",
             "## Protocol", ""] + protocol_lines(protocol, baseline, plots) + ["", "## Results", "",
             "Cells are `ours (paper)`: accuracies in %, `± std` over trials for random models; the paper's "
             "number (where a paper states one for a comparable setting) in parentheses; empty = not measured "
             "or not reported.", ""] + table(board_rows, protocol)
    sources = _sources(names)
    if sources:
        lines += ["", "Paper numbers:", ""] + sources
    if pending:
        lines += ["", f"Not evaluated under this protocol yet: {', '.join(pending)}."]
    if baseline not in names and ("corruption" in protocol.suites or "perturbation_seq" in protocol.suites):
        lines += ["", f"mCE / mFR are empty: the baseline `{baseline}` has no report under this protocol."]
    lines += ["", f"CPU: {'; '.join(cpus) or 'unknown'}. Total evaluation wall time: {totals['seconds']:.0f} s "
              f"(sum over models; this run: {totals['run_seconds']:.0f} s).", ""]
    return "\n".join(lines)


def to_json(board_rows, protocol, baseline, totals, pending):
    return {"protocol": {**protocol.as_dict(), "hash": protocol.digest(), "baseline": baseline},
            "columns": [k for k, _ in columns(protocol)],
            "rows": [{**r, "text": {k: cell(r, k) for k, _ in columns(protocol)}} for r in board_rows],
            "paper_sources": {n: PAPER[n] for n in dict.fromkeys(r["model"] for r in board_rows) if n in PAPER},
            "seconds": {r["model"]: r["cells"]["seconds"] for r in board_rows if r["noise"] == "on"},
            "total_seconds": totals["seconds"], "run_seconds": totals["run_seconds"],
            "cpu": sorted({r["cpu"] for r in board_rows if r.get("cpu")}), "pending": list(pending)}


def card_block(name, board_rows, protocol, board_path="docs/LEADERBOARD.md"):
    own = [r for r in board_rows if r["model"] == name]
    info = own[0]["export"]
    return "\n".join([BEGIN, "## Leaderboard", "",
                      f"Measured by `python -m eval.leaderboard` (protocol hash `{protocol.digest()}`, version "
                      f"{info.get('version')} exported {info.get('exported_at')}); protocol and the other models in "
                      f"{board_path}.", ""] + table(own, protocol) + ["", END])


def update_card(path, block):
    """Replace the text between the markers (markers included) or append the block; nothing else changes."""
    text = open(path, encoding="utf-8").read() if os.path.isfile(path) else ""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text + ("" if text.endswith("\n") or not text else "\n") + ("\n" if text else "") + block + "\n"
    _write(path, text)


def write_plots(reports, plots_dir):
    """accuracy_vs_eps.png and accuracy_vs_steps.png with every model's (and noise-off view's) curve."""
    from eval.report import _atomic_write, _plot_curves
    os.makedirs(plots_dir, exist_ok=True)
    paths = []
    for name in ("accuracy_vs_eps", "accuracy_vs_steps"):
        curves = [c for r in reports.values() for c in r["curves"] if c["name"] == name]
        if not curves:
            continue
        fig = _plot_curves(curves)
        path = os.path.join(plots_dir, f"{name}.png")
        _atomic_write(path, lambda f, fig=fig: fig.savefig(f, format="png", dpi=120), binary=True)
        paths.append(path)
    return paths


def _write(path, text):
    from eval.report import _atomic_write
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _atomic_write(path, lambda f: f.write(text))


def write_json(path, data):
    _write(path, json.dumps(data, indent=1, allow_nan=False, ensure_ascii=False) + "\n")
