"""Run the configured suites on the loaded models and write the report: what ``python -m eval`` and the
demos (``examples/quickstart.py``) share, so neither needs the command line of the other.

    from eval.runner import run
    from eval.suites import EvalConfig
    report, paths = run(EvalConfig(models=("exported_models/x/1",), dataset="digits", suites=("whitebox",)))
"""
import datetime
import os
import sys
import time

from zoo.errors import ZooError


def run(config, verbose=True):
    """Run the configured suites; returns (report dict, written paths)."""
    from tqdm import tqdm

    from eval import model as model_lib
    from eval.report import Report
    from eval.suites import SUITES, Context
    from zoo import data

    models = [model_lib.load(path) for path in config.models]
    from zoo.cli import writable_dir
    writable_dir(config.report_dir, "report_dir")  # before the evaluation, not after it
    names = [m.name for m in models]
    if len(set(names)) != len(names):  # two versions of one export: keep them apart in the report
        for m, path in zip(models, config.models):
            m.name = f"{m.name}@{os.path.basename(os.path.normpath(path))}"
    x, y = data.as_numpy(config.dataset, config.split, config.num_examples, data_dir=config.data_dir)
    x = model_lib.check_images(x)
    for m in models:
        if tuple(m.input_shape) != tuple(x.shape[1:]):
            raise ZooError(f"--model={m.path} takes images of shape {tuple(m.input_shape)} but --dataset="
                           f"{config.dataset} has {tuple(x.shape[1:])}")
    meta = {"command": " ".join(sys.argv), "models": {m.name: {"path": m.path, "is_random": m.is_random,
                                                                "is_differentiable": m.is_differentiable,
                                                                "architecture": m.metadata.get("architecture"),
                                                                "variant": m.metadata.get("variant")}
                                                      for m in models},
            "dataset": config.dataset, "split": config.split, "num_examples": int(len(x)), "seed": config.seed,
            "protocol": config.protocol, "eot_mode": config.eot_mode, "noise": config.noise,
            "suites": list(config.suites), "started_at": datetime.datetime.now().isoformat(timespec="seconds")}
    report = Report(meta)
    bar = tqdm(total=0, bar_format="{desc}", disable=not verbose, file=sys.stderr)
    ctx = Context(config, models, x, y, report, progress=lambda text: bar.set_description_str(f"[eval] {text}"))
    start = time.time()
    for name in tqdm(config.suites, desc="suites", disable=not verbose, file=sys.stderr):
        SUITES.get(name)(ctx)
    bar.close()
    report.update_meta(seconds=round(time.time() - start, 1))
    paths = report.write(config.report_dir)
    return report.to_dict(), paths
