"""Report plots: the object-oriented matplotlib API on an Agg canvas (no pyplot, no global backend state,
no figures left open). matplotlib is imported on the first figure, so importing this stays light."""
import sys

import numpy as np

from eval.report.layout import _is_fraction_matrix, _title

DPI = 100


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
