"""Corruption robustness (issue 5): CIFAR-10-C errors, CE and mCE (corruption), CIFAR-10-P flip rates
(perturbation_seq), each against a baseline model of this run or of an earlier report."""
import numpy as np

from eval.suites.context import suite


def _baseline(ctx, matrix_name, own):
    """(model name, {model: values}) of the baseline: a model of this run or of --baseline_report."""
    c = ctx.config
    if c.baseline_model and c.baseline_model in own:
        return c.baseline_model, own
    if c.baseline_report:
        from eval.report import load
        from zoo.errors import ZooError
        data = load(c.baseline_report)
        found = {m.get("model"): m for m in data["matrices"] if m["name"] == matrix_name}
        name = c.baseline_model or (next(iter(found)) if len(found) == 1 else None)
        if name not in found:
            raise ZooError(f"--baseline_report={c.baseline_report}: no {matrix_name} of model {name!r}; it has "
                           f"{', '.join(map(str, found)) or 'none'}")
        clean = [r for r in data["results"] if r["model"] == name and r["attack"] == "clean"]
        return name, {name: (found[name], clean[0]["accuracy"] if clean else None)}
    return None, own


@suite("corruption")
def corruption_suite(ctx):
    from eval.corruptions import BENCHMARK, EXTRA, SEVERITIES, generate
    from eval.metrics import corruption as cm
    c = ctx.config
    names = list(BENCHMARK) + list(EXTRA)
    # Streamed: one (corruption, severity) set at a time, generated (or memory-mapped from the cache) as uint8 and
    # converted to float in slices, every model evaluated on it, then dropped. Holding all 95 sets as float32 took
    # 1.2 MB per image (11.7 GB for 10,000 test images); BUILD.md section 10 has the peak RSS before and after.
    errors = {model.name: {} for model in ctx.models}
    for name in names:
        ctx.progress(f"CIFAR-10-C: {name} (generated once, then cached)")
        for severity in SEVERITIES:
            images = generate(ctx.x, [name], [severity], seed=c.seed, cache_dir=c.cache_dir,
                              progress=False)[(name, severity)]
            for model in ctx.models:
                errors[model.name].setdefault(name, []).append(cm.set_error(model, images, ctx.y))
            del images
    own = {}
    for model in ctx.models:
        clean = ctx.result(model, "clean", suite_name="corruption")
        errors_m = errors[model.name]
        matrix = dict(name="corruption_error", model=model.name, rows=names, cols=[f"s{s}" for s in range(1, 6)],
                      values=[errors_m[n] for n in names], row_label="corruption", col_label="severity",
                      paper="CIFAR-10-C error rates (Hendrycks & Dietterich 2019)")
        ctx.report.add_matrix(**matrix)
        own[model.name] = (matrix, clean["accuracy"])
    base_name, table = _baseline(ctx, "corruption_error", own)
    if base_name is None:
        return
    base_matrix, base_acc = table[base_name]
    base_errors = dict(zip(base_matrix["rows"], base_matrix["values"]))
    ce_rows, rel_rows = [], []
    for model in ctx.models:
        matrix, acc = own[model.name]
        scores = cm.ce_scores(dict(zip(names, matrix["values"])), 1 - acc, base_errors, 1 - base_acc, BENCHMARK)
        ce_rows.append([scores["CE"][n] for n in BENCHMARK] + [scores["mCE"]])
        rel_rows.append([scores["relative_CE"][n] for n in BENCHMARK] + [scores["relative_mCE"]])
    models = [m.name for m in ctx.models]
    for name, rows in (("CE", ce_rows), ("relative_CE", rel_rows)):
        _add_defined_matrix(ctx, f"corruption_{name}", models, list(BENCHMARK) + [f"m{name}"], rows,
                            f"corruption (% of {base_name})", "ANP Tables 8-9 (baseline " + base_name + " = 100)")


def _add_defined_matrix(ctx, name, rows, cols, values, col_label, paper):
    """A score matrix without the columns a zero baseline leaves undefined (named in the label)."""
    values = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(values).all(axis=0)
    dropped = [c for c, k in zip(cols, keep) if not k]
    label = col_label + (f"; undefined (baseline 0): {', '.join(dropped)}" if dropped else "")
    ctx.report.add_matrix(name=name, rows=rows, cols=[c for c, k in zip(cols, keep) if k],
                          values=values[:, keep].tolist(), row_label="model", col_label=label, paper=paper)


@suite("perturbation_seq")
def perturbation_suite(ctx):
    from eval.corruptions import ANP_TABLE10, flip_reference, perturbation_sequence
    from eval.metrics import corruption as cm
    c = ctx.config
    names = list(ANP_TABLE10)
    x = ctx.x[:c.sequence_examples]
    fps = {m.name: [] for m in ctx.models}
    for name in names:
        ctx.progress(f"CIFAR-10-P: {name}")
        seq = perturbation_sequence(x, name, seed=c.seed, cache_dir=c.cache_dir)  # uint8; converted in slices
        for model in ctx.models:
            fps[model.name].append(cm.flip_probability(cm.sequence_predictions(model, seq),
                                                       reference=flip_reference(name)))
    models = [m.name for m in ctx.models]
    for model in models:
        ctx.report.add_matrix(name="flip_probability", model=model, rows=[model], cols=names, values=[fps[model]],
                              row_label="model", col_label="perturbation", paper="CIFAR-10-P flip probability")
    own = {m: ({"rows": [m], "cols": names, "values": [fps[m]]}, None) for m in models}
    base_name, table = _baseline(ctx, "flip_probability", own)
    if base_name is None:
        return
    base_fp = dict(zip(table[base_name][0]["cols"], table[base_name][0]["values"][0]))
    rows = []
    for model in models:
        scores = cm.fr_scores(dict(zip(names, fps[model])), base_fp, names)
        rows.append([scores["FR"][n] for n in names] + [scores["mFR"]])
    _add_defined_matrix(ctx, "flip_rate", models, names + ["mFR"], rows, f"perturbation (% of {base_name})",
                        "ANP Table 10")
