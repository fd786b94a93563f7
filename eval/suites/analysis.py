"""Suites of the deterministic network and of its gradients: boundary, insensitivity, analysis, saliency
(ANP eq. 3-4, Fig. 4-5; Study sec. 2.4, 3.8, D.6)."""
import numpy as np

from eval.metrics.robustness import attack_settings, craft
from eval.suites.config import BOUNDARY_SEARCH_LIMIT
from eval.suites.context import pgd_params, suite


@suite("boundary")
def boundary_suite(ctx):
    from eval.metrics.boundary import boundary_distance
    c = ctx.config
    x = ctx.x[:c.boundary_examples]
    rows = []
    for model in ctx.models:
        ctx.progress(f"{model.name}: boundary distance ({c.directions} directions)")
        out = boundary_distance(model.model_fn("deterministic"), x, None, m=c.directions, seed=c.seed,
                                t_max=BOUNDARY_SEARCH_LIMIT)
        if np.isfinite(out["W_f_l2"]):
            rows.append([out["W_f_rms255"], out["W_f_l2"], float(out["unbroken"])])
        else:  # no ray crossed the boundary within the search limit: W_f is at least that limit (a lower bound)
            limit = BOUNDARY_SEARCH_LIMIT
            rows.append([255.0 * limit / np.sqrt(x[0].size), limit, float(out["unbroken"])])
        finite = [float(v) for v in out["d"] if np.isfinite(v)]
        if finite:  # no ray crossed the boundary for any image: nothing to draw (the matrix says "unbroken")
            ctx.report.add_histogram(name="boundary_distance", model=model.name, series=model.name, values=finite,
                                     x_label="min distance to the boundary (L2, [0,1] pixels)", paper="ANP eq. 3")
    ctx.report.add_matrix(name="worst_case_boundary_distance", rows=[m.name for m in ctx.models],
                          cols=["W_f (RMS, 0-255)", "W_f (L2, 0-1)", "unbroken"], values=rows, row_label="model",
                          col_label=f"{2 * c.directions} rays, {len(x)} images; mean over the images some ray "
                          f"breaks (all unbroken: the search limit, a lower bound)", paper="ANP eq. 3, Table 11")


@suite("insensitivity")
def insensitivity_suite(ctx):
    import zoo
    from eval.metrics import insensitivity as ins
    c = ctx.config
    x, y = ctx.x[:c.insensitivity_examples], ctx.y[:c.insensitivity_examples]
    for model in ctx.models:
        fn = model.model_fn(model.deterministic_mode(c.bpda))  # noise off; BPDA through rounding channels
        for method in ("fgsm", "pgd", "step_ll", "gaussian_noise", "shot_noise"):
            ctx.progress(f"{model.name}: noise insensitivity ({method})")
            values = [ins.noise_insensitivity(fn, x, y, method, e, copies=1 if method == "fgsm" else 10,
                                              seed=c.seed) for e in c.insensitivity_eps]
            ctx.report.add_curve(name=f"noise_insensitivity_{method}", model=model.name, series=model.name,
                                 x=[round(e * 255, 3) for e in c.insensitivity_eps], y=values,
                                 x_label="eps (x/255)", y_label="I_f(eps)", paper="ANP eq. 4, Fig. 8-9")
        keras_model = model.keras_model()
        rng = np.random.default_rng(c.seed)
        for method in ("pgd", "gaussian_noise"):
            polluted = ins.polluted(method, fn, x, y, c.eps, rng)
            with zoo.inference_noise(keras_model, False):
                per_layer = ins.hidden_insensitivity(keras_model, x, polluted)
            ctx.report.add_curve(name=f"hidden_insensitivity_{method}", model=model.name, series=model.name,
                                 x=list(range(1, len(per_layer) + 1)), y=list(per_layer.values()),
                                 x_label="ReLU layer (input to output)", y_label="relative activation change",
                                 paper="ANP Fig. 4, 13")


@suite("analysis")
def analysis_suite(ctx):
    from eval.metrics import analysis
    c = ctx.config
    x, y = ctx.x[:c.analysis_examples], ctx.y[:c.analysis_examples]
    k = min(c.gradient_norm_examples, len(x))
    for model in ctx.models:
        # M1 / M2 of the deterministic network (noise off; BPDA through rounding channels); the adversarial
        # examples are those of the model as served, crafted with its EOT and BPDA settings.
        fn = model.model_fn(model.deterministic_mode(c.bpda))
        ctx.progress(f"{model.name}: M1 / M2")
        eot, _, mode = attack_settings(model, c.model_settings(model)[0], 1, c.bpda)
        x_adv = craft(model, "pgd", x, y, pgd_params(c, max(c.steps)), eot, mode, c.batch_size, c.eot_mode)
        for kind, data in (("natural", x), ("adversarial", x_adv)):
            pred = np.argmax(fn(data).numpy(), axis=1).astype(np.int32)
            m1, m2 = analysis.m1_m2(fn, data, pred, seed=c.seed)
            ctx.report.add_histogram(name=f"M1_{model.name}", model=model.name, series=kind, values=m1.tolist(),
                                     x_label="M1 = ||grad_x f_c(x)||_2", paper="Study sec. 2.4, 3.8")
            ctx.report.add_histogram(name=f"M2_{model.name}", model=model.name, series=kind, values=m2.tolist(),
                                     x_label="M2 = lambda_max of the input Hessian", paper="Study sec. 2.4, D.6")
        ctx.progress(f"{model.name}: gradient norms under noise")
        sigmas = [0.0, 0.01, 0.02, 0.04, 0.08]
        curves = analysis.gradient_norms_under_noise(fn, x[:k], y[:k].astype(np.int32), x_adv[:k], sigmas,
                                                     seed=c.seed)
        for (start, label), values in curves.items():
            ctx.report.add_curve(name=f"gradient_norm_{start}_{model.name}", model=model.name, series=label,
                                 x=sigmas, y=values, x_label="Gaussian noise sigma",
                                 y_label="||grad_x L(x, c)||_2", paper="Study Fig. 12-14")


@suite("saliency")
def saliency_suite(ctx):
    from eval.metrics.saliency import saliency_maps
    n = ctx.config.saliency_examples
    x, y = ctx.x[:n], ctx.y[:n]
    rows = [x.tolist()]
    for model in ctx.models:
        ctx.progress(f"{model.name}: saliency")
        maps = saliency_maps(model.keras_model(), x, y)
        rows.append(maps[..., None].tolist())
    ctx.report.add_image_grid(name="saliency", images=rows, row_labels=["input"] + [m.name for m in ctx.models],
                              col_labels=[f"label {int(v)}" for v in y], paper="ANP Fig. 5, 10")
