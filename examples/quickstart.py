"""`make quickstart` (`python -m examples.quickstart`): train a small PNI model on the embedded digits
data, export it, then attack the SavedModel (the artifact TF Serving would load) with FGSM, PGD and
EOT-PGD and write a report.

Everything is offline: scikit-learn ships the 8x8 digits. On this 2-core CPU it takes about two minutes.
"""
import os
import time

EPS = 0.15  # digits have 17 grey levels: 8/255 would be below one level


def main():
    from trainers import run
    from trainers.config import TrainConfig

    start = time.time()
    config = TrainConfig.from_flat(method="pni", model="resnet20", width=0.5, pni="W", dataset="digits",
                                   batch_size=64, epochs=8, lr=0.05, lr_boundaries=(6,), momentum=0.9, nesterov=True,
                                   weight_decay=3e-4, eps=EPS, step_size=EPS / 4, steps=5, augment=False,
                                   export_name="quickstart_pni", run_dir=os.path.join("runs", "quickstart"))
    print(f"Training PNI-W ResNet-20 (width 0.5) on digits with PGD-{config.steps} (eps {EPS}) ...")
    result = run.train(config, verbose=1)
    path = result["export_path"]

    from eval.runner import run as run_eval
    from eval.suites import EvalConfig

    report_dir = os.path.join("reports", "quickstart")
    print(f"\nAttacking the SavedModel {path} (random: 5 trials; EOT-PGD averages 8 noise draws) ...")
    # A PNI model is random: the suite reports mean ± std over 5 trials. Plain PGD is run with eot=1
    # to show how much the noise flatters a non-adaptive attack; "pgd" with EOT is the honest number.
    rows = []
    model_cfg = dict(models=(path,), dataset="digits", split="test", num_examples=360, report_dir=report_dir,
                     eps=EPS, step_size=EPS / 4, trials=5)
    _, single = run_eval(EvalConfig(suites=("whitebox",), attacks=("fgsm", "pgd"), steps=(10,), eps_list=(0.0, EPS),
                                    steps_list=(10,), eot=1, **{**model_cfg, "report_dir": report_dir + "_no_eot"}),
                         verbose=False)
    rows += json_rows(single["json"])
    _, paths = run_eval(EvalConfig(suites=("whitebox",), attacks=("pgd",), steps=(10,), eps_list=(0.0, EPS),
                                        steps_list=(10,), eot=8, **model_cfg), verbose=False)
    rows += [r for r in json_rows(paths["json"]) if r["attack"] != "clean"]
    print()
    print(f"| attack (eps {EPS} on digits) | accuracy of the served PNI model |")
    print("|---|---|")
    from eval.report import format_accuracy
    for r in rows:
        name = r["attack"] + (f"-{r['params']['steps']}" if "steps" in r["params"] else "")
        name += f" (EOT {r['eot']})" if r["attack"] != "clean" else ""
        print(f"| {name} | {format_accuracy(r['accuracy'], r['std'], r['trials'])} |")
    print(f"\nTrained and exported in {result['metrics']['train_seconds']:.0f} s; total {time.time() - start:.0f} s.")
    print(f"Report: {paths['markdown']} (EOT-PGD; JSON and plots beside it), {single['markdown']} (no EOT)")
    print(f"Serve it: BUILD.md section 6 (docker tensorflow/serving, model base path {os.path.dirname(path)})")


def json_rows(path):
    import json
    with open(path) as f:
        return json.load(f)["results"]

if __name__ == "__main__":
    main()
