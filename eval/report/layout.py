"""Report layout shared by the Markdown and the plots: titles, matrix kind, and the plot plan (which PNG
file holds which curves, matrices, histograms and image grids, in a fixed order)."""
import re


def _is_fraction_matrix(values):
    return all(0.0 <= v <= 1.0 for row in values for v in row)


def _title(item):
    title = item["name"].replace("_", " ")
    return f"{title} ({item['model']})" if item.get("model") else title


def _sanitise(name):
    return re.sub(r"[^a-z0-9._-]+", "_", name.lower()).strip("._-") or "plot"


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
