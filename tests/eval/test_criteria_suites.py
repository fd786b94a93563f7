"""The ANP / perturbation-study suites end to end on small digits models (the numbers are checked
in test_robustness_metrics.py; here: what reaches the report, and its sanity)."""
import numpy as np

from eval.cli import run
from eval.suites import EvalConfig


def test_boundary_insensitivity_analysis_and_saliency_reach_the_report(digits_models, tmp_path):
    config = EvalConfig(models=(digits_models["plain"], digits_models["pni"]), dataset="digits", num_examples=16,
                        suites=("boundary", "insensitivity", "analysis", "saliency"), report_dir=str(tmp_path),
                        boundary_examples=4, directions=4, insensitivity_eps=(0.05, 0.1), saliency_examples=4,
                        eps=0.1, step_size=0.03, steps=(3,))
    report, paths = run(config, verbose=False)
    wf = next(m for m in report["matrices"] if m["name"] == "worst_case_boundary_distance")
    assert wf["rows"] == ["plain", "pni"] and all(np.isfinite(r[0]) and r[0] > 0 for r in wf["values"])
    names = {c["name"] for c in report["curves"]}
    assert {"noise_insensitivity_fgsm", "noise_insensitivity_pgd", "hidden_insensitivity_pgd",
            "gradient_norm_natural_plain"} <= names
    hidden = next(c for c in report["curves"] if c["name"] == "hidden_insensitivity_pgd" and c["model"] == "plain")
    assert len(hidden["y"]) == 19 and all(v >= 0 for v in hidden["y"])  # ResNet-20: 19 ReLU layers
    m2 = [h for h in report["histograms"] if h["name"] == "M2_plain"]
    assert {h["series"] for h in m2} == {"natural", "adversarial"}
    grid = report["image_grids"][0]
    assert grid["row_labels"] == ["input", "plain", "pni"] and len(grid["images"][1]) == 4
    maps = np.array(grid["images"][1])
    assert maps.min() >= 0 and maps.max() <= 1 and maps.std() > 0
    assert len(paths["plots"]) >= 6
