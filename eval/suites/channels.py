"""The channels suite: input-channel defenses (Study Fig. 1, Table 1, Fig. 2, sec. 3.4)."""
from eval.metrics import channels as channel_metrics
from eval.suites.context import pgd_params, suite


@suite("channels")
def channels_suite(ctx):
    c = ctx.config
    count = len(ctx.x) if c.channel_examples is None else min(int(c.channel_examples), len(ctx.x))
    x, y = ctx.x[:count], ctx.y[:count]
    for model in ctx.models:
        ctx.progress(f"{model.name}: accuracy vs distortion")
        for curve_dict in channel_metrics.distortion_curves(model, ctx.x, ctx.y):
            ctx.report.add_curve(**curve_dict)
        ctx.progress(f"{model.name}: channel transfer matrix ({c.channel_attack}, {len(x)} images)")
        params = pgd_params(c, max(c.steps)) if c.channel_attack == "pgd" else {}
        ctx.report.add_matrix(**channel_metrics.transfer_matrix(model, x, y, attack=c.channel_attack, params=params,
                                                                batch_size=c.batch_size, bpda=c.bpda,
                                                                progress=ctx.progress))
        ctx.progress(f"{model.name}: recovery windows")
        curves, n = channel_metrics.recovery_windows(model, x, y, params=pgd_params(c, max(c.steps)), seed=c.seed,
                                                     bpda=c.bpda)
        for curve_dict in curves:
            ctx.report.add_curve(**{**curve_dict, "series": curve_dict["series"]})
        ctx.result(model, "partial_adaptive", {}, suite_name="channels", x=x, y=y)
        ctx.result(model, "partial_adaptive_pgd", {"eps": c.eps, "step_size": min(c.step_size, c.eps)},
                   suite_name="channels", x=x, y=y)
