"""eval.report: JSON round trip, Markdown a person reads, PNG plots, atomic writes, one-line errors."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from eval import report as report_mod
from eval.report import SCHEMA_VERSION, Report, format_accuracy, format_params, load

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EPS = 0.03137254901960784  # 8/255


def _row(**over):
    row = dict(model="det", attack="clean", params={}, accuracy=0.8384, std=0.0, trials=1, eot=1, bpda=False,
               seed=0, seconds=1.25, num_examples=500)
    row.update(over)
    return row


def _full_report():
    rep = Report(meta={"command": "python -m eval --model=a --model=b", "models": ["pni_w", "det"],
                       "dataset": "cifar10", "split": "test", "num_examples": 500, "seed": 0,
                       "suites": ["whitebox", "obfuscation"], "started_at": "2024-05-01T12:00:00",
                       "versions": {"python": "3.11", "numpy": np.__version__}})
    rep.add_result(**_row(model="pni_w", attack="pgd", params={"eps": EPS, "step_size": 2 / 255, "steps": 20},
                          accuracy=0.4594, std=0.0011, trials=5, eot=8, bpda=True, seconds=812.4,
                          defense="majority_vote", suite="whitebox"))
    rep.add_result(**_row(attack="cw_l2", params={"max_iterations": 10}, accuracy=np.float32(0.125),
                          l2_distortion=np.float64(0.4567), seed=np.int64(3)))
    for model, ys, std in (("pni_w", [0.9, 0.6, 0.45], [0.01, 0.02, 0.011]), ("det", [0.85, 0.3, 0.05], None)):
        rep.add_curve(name="accuracy_vs_eps", model=model, series=model, x=[0, 4, 8], y=ys, std=std,
                      x_label="eps (x/255)", y_label="accuracy", paper="PNI Fig. 3")
    rep.add_curve(name="accuracy_vs_steps", model="det", x=[1, 7, 20], y=[0.4, 0.2, 0.1], x_label="PGD steps",
                  y_label="accuracy")
    rep.add_matrix(name="transfer_matrix", rows=["pni_w", "det"], cols=["pni_w", "det"],
                   values=np.array([[0.1234, 0.5678], [0.9012, 0.0345]]), row_label="source", col_label="target",
                   paper="PNI sec. 4.2.2")
    rep.add_check(name="one-step attack not stronger than iterative", passed=True, model="pni_w",
                  numbers={"fgsm_accuracy": 0.61, "pgd_accuracy": 0.4594}, explanation="FGSM >= PGD")
    rep.add_check(name="unbounded attack reaches ~100% success", passed=np.bool_(False), model="det",
                  numbers={"unbounded_accuracy": 0.37, "eps": 1.0, "ratio": float("inf")},
                  explanation="an unbounded attack must win")
    rng = np.random.default_rng(0)
    rep.add_histogram(name="gradient_norm", model="pni_w", series="pni_w", values=rng.lognormal(0, 1, 200),
                      x_label="||grad||")
    rep.add_histogram(name="gradient_norm", model="det", series="det", values=rng.lognormal(1, 0.5, 200).tolist(),
                      x_label="||grad||")
    grid = rng.uniform(0, 1, (2, 3, 8, 8, 3))
    grid[1] = grid[1].mean(-1, keepdims=True)  # second row: single-channel maps
    rep.add_image_grid(name="saliency", images=[list(grid[0]), [g[..., 0] for g in grid[1]]],
                       row_labels=["input", "saliency"], col_labels=["a", "b", "c"])
    return rep


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    rep = _full_report()
    out = tmp_path_factory.mktemp("report") / "nested" / "dir"  # write creates the directory
    paths = rep.write(out)
    return rep, out, paths


def test_json_round_trip_and_schema(written):
    rep, out, paths = written
    assert paths["json"] == os.path.join(str(out), "report.json")
    data = load(paths["json"])
    expected = json.loads(json.dumps(rep.to_dict()))
    assert data == expected == rep.to_dict()  # to_dict is already plain JSON (numpy values converted)
    assert load(out) == data  # a directory works too
    assert list(data) == ["schema_version", "meta", "results", "curves", "matrices", "checks", "histograms",
                          "image_grids", "plots"]
    assert data["schema_version"] == SCHEMA_VERSION == 1
    pni, det = data["results"]
    assert pni["trials"] == 5 and pni["std"] == pytest.approx(0.0011) and pni["defense"] == "majority_vote"
    assert det["accuracy"] == 0.125 and det["seed"] == 3 and det["l2_distortion"] == pytest.approx(0.4567)
    assert det["std"] == 0.0 and "defense" not in det
    assert data["checks"][1]["numbers"]["ratio"] == "inf"  # strict JSON: non-finite stored as a string
    assert np.asarray(data["image_grids"][0]["images"][0][0]).shape == (8, 8, 3)
    assert np.asarray(data["image_grids"][0]["images"][1][0]).shape == (8, 8)
    with open(paths["json"]) as f:
        assert "NaN" not in f.read()


def test_plots_one_png_per_group(written):
    rep, out, paths = written
    plots = rep.to_dict()["plots"]
    # 2 curve names + 1 matrix + 1 histogram name + 1 grid
    assert plots == ["accuracy_vs_eps.png", "accuracy_vs_steps.png", "transfer_matrix.png", "gradient_norm.png",
                     "saliency.png"]
    assert paths["plots"] == [os.path.join(str(out), p) for p in plots]
    for path in paths["plots"]:
        with open(path, "rb") as f:
            blob = f.read()
        assert blob[:8] == PNG_MAGIC and len(blob) > 5000, path
    assert sorted(os.listdir(out)) == sorted(plots + ["report.json", "report.md"])  # no temp files left


def test_plot_size_follows_dpi(written):
    _, out, _ = written
    with open(out / "accuracy_vs_eps.png", "rb") as f:
        head = f.read(24)
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (700, 450)  # 7 x 4.5 inches at dpi 100


def test_markdown_reads_well(written):
    _, out, paths = written
    md = open(paths["markdown"], encoding="utf-8").read()
    assert md.startswith("# ")
    assert "45.94 ± 0.11 % (5 trials)" in md and "83.84" not in md and "12.50 %" in md
    assert "eps=8/255 step_size=2/255 steps=20" in md
    assert "cifar10 (test split)" in md and "whitebox, obfuscation" in md and "2024-05-01T12:00:00" in md
    assert "python -m eval --model=a --model=b" in md
    assert "✅" in md and "❌" in md and "fgsm_accuracy=61.00 %, pgd_accuracy=45.94 %" in md
    assert "eps=1, ratio=inf" in md
    for number in ("12.34 %", "56.78 %", "90.12 %", "3.45 %"):
        assert number in md
    assert "0.4567" in md and "majority_vote" in md  # L2 distortion and defense columns
    for png in ("accuracy_vs_eps.png", "transfer_matrix.png", "gradient_norm.png", "saliency.png"):
        assert f"]({png})" in md
    # results grouped by model, in order of appearance
    assert md.index("### pni_w") < md.index("### det") < md.index("## Checks")
    # every table row has as many cells as its header (escaped pipes do not split cells)
    tables, current = [], None
    for line in md.splitlines():
        if line.startswith("|"):
            cells = len(re.split(r"(?<!\\)\|", line)) - 2
            current = current or tables.append([]) or tables[-1]
            current.append(cells)
        else:
            current = None
    assert len(tables) == 5  # two models, checks, matrix, histogram stats
    assert all(len(set(t)) == 1 and len(t) >= 3 for t in tables), tables


def test_format_accuracy():
    assert format_accuracy(0.4594, 0.0011, 5) == "45.94 ± 0.11 % (5 trials)"
    assert format_accuracy(0.8384, 0.0, 1) == "83.84 %"
    assert format_accuracy(1.0, 0.0, 1) == "100.00 %"
    assert format_accuracy(0.0, 0.0, 2) == "0.00 ± 0.00 % (2 trials)"
    assert format_accuracy(0.12345, 0.00456, 10) == "12.35 ± 0.46 % (10 trials)"


def test_format_params():
    assert format_params({"eps": EPS, "steps": 20}) == "eps=8/255 steps=20"
    assert format_params({"eps": 0.03, "step_size": 2 / 255}) == "eps=0.03 step_size=2/255"
    assert format_params({"eps": 1.0, "c": 0.5}) == "eps=1 c=0.5"  # the whole box is not "255/255"
    assert format_params({"eps": [0.0, 4 / 255, 8 / 255]}) == "eps=[0,4/255,8/255]"
    assert format_params({"step_size": 2 / 255, "norm": "inf"}) == "step_size=2/255 norm=inf"
    assert format_params({}) == "—"


def test_failed_json_write_leaves_nothing_behind(tmp_path, monkeypatch):
    rep = _full_report()

    def broken_dump(obj, f, **kwargs):
        f.write('{"schema_version": 1, "meta": {')  # half a file
        raise OSError("disk full")

    monkeypatch.setattr(report_mod.json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        rep.write(tmp_path / "r")
    names = os.listdir(tmp_path / "r")
    assert "report.json" not in names and not [n for n in names if n.endswith(".tmp") or n.startswith(".")]


def test_failed_rewrite_keeps_the_previous_report(tmp_path, monkeypatch):
    first = Report(meta={"seed": 1})
    first.add_result(**_row())
    first.write(tmp_path)
    before = (tmp_path / "report.json").read_bytes()
    second = _full_report()
    monkeypatch.setattr(report_mod.json, "dump", lambda obj, f, **kw: (f.write("{"), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        second.write(tmp_path)
    assert (tmp_path / "report.json").read_bytes() == before
    assert load(tmp_path)["meta"] == {"seed": 1}
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_failed_plot_leaves_no_partial_png(tmp_path, monkeypatch):
    rep = Report(meta={})
    rep.add_curve(name="c", model="m", x=[0, 1], y=[0.5, 0.4], x_label="x", y_label="y")
    real = report_mod._plot_curves

    def broken(items):
        fig = real(items)
        fig.savefig = lambda f, **kw: (f.write(b"\x89PNG half"), 1 / 0)
        return fig

    monkeypatch.setattr(report_mod, "_PLOTTERS", {**report_mod._PLOTTERS, "curve": broken})
    with pytest.raises(ZeroDivisionError):
        rep.write(tmp_path)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("change, field", [
    ({"accuracy": None}, "accuracy"),
    ({"accuracy": 1.5}, "accuracy"),
    ({"accuracy": -0.01}, "accuracy"),
    ({"accuracy": float("nan")}, "accuracy"),
    ({"accuracy": "0.5"}, "accuracy"),
    ({"trials": 0}, "trials"),
    ({"trials": 5, "std": None}, "std"),
    ({"std": 0.01}, "std"),  # 1 trial has no spread
    ({"bpda": 1}, "bpda"),
    ({"eot": 2.5}, "eot"),
    ({"params": [1, 2]}, "params"),
    ({"acuracy": 0.5}, "acuracy"),  # a typo is refused, not dropped
    ({"noise": "maybe"}, "noise"),
    ({"eot_mode": "mean"}, "eot_mode"),
    ({"votes": 0}, "votes"),
])
def test_bad_result_names_the_field(change, field):
    row = _row(**{k: v for k, v in change.items() if v is not None})
    for k, v in change.items():
        if v is None:
            row.pop(k)
    with pytest.raises(ValueError) as err:
        Report({}).add_result(**row)
    msg = str(err.value)
    assert f"'{field}'" in msg and "\n" not in msg and len(msg) < 500


def test_noise_off_eot_mode_and_votes_reach_the_markdown():
    rep = Report({"num_examples": 500})
    rep.add_result(**_row(model="pni", attack="pgd", trials=5, std=0.01, eot=8, eot_mode="gradient", noise="on"))
    rep.add_result(**_row(model="pni (noise off)", attack="pgd", noise="off"))
    rep.add_result(**_row(model="pni", defense="majority_vote", votes=7, noise="on"))
    data = rep.to_dict()
    assert [r.get("noise") for r in data["results"]] == ["on", "off", "on"] and data["results"][2]["votes"] == 7
    markdown = report_mod.render_markdown(data)
    assert "### pni (noise off)" in markdown and "| Noise |" in markdown
    assert "| 8 (gradient) |" in markdown and "majority_vote (7 votes)" in markdown
    plain = Report({})
    plain.add_result(**_row(noise="on"))
    assert "Noise" not in report_mod.render_markdown(plain.to_dict())  # no noise-off rows: no column


def test_missing_accuracy_message():
    row = _row()
    del row["accuracy"]
    with pytest.raises(ValueError, match=r"^Report.add_result: field 'accuracy' is missing"):
        Report({}).add_result(**row)
    with pytest.raises(ValueError, match=r"field 'accuracy' must be a float in \[0.0, 1.0\]; got 1.5$"):
        Report({}).add_result(**_row(accuracy=1.5))


def test_bad_curves_matrices_grids():
    rep = Report({})
    with pytest.raises(ValueError, match="'y' must have 3 entries"):
        rep.add_curve(name="c", model="m", x=[1, 2, 3], y=[0.1, 0.2], x_label="x", y_label="y")
    with pytest.raises(ValueError, match="'values'"):
        rep.add_matrix(name="t", rows=["a", "b"], cols=["a"], values=[[0.1]], row_label="r", col_label="c")
    with pytest.raises(ValueError, match=r"'values\[0\]' must have 2 entries"):
        rep.add_matrix(name="t", rows=["a"], cols=["a", "b"], values=[[0.1]], row_label="r", col_label="c")
    with pytest.raises(ValueError, match=r"'images\[0\]\[0\]' must hold finite values in \[0, 1\]"):
        rep.add_image_grid(name="g", images=[[np.full((4, 4, 3), 1.5)]])
    with pytest.raises(ValueError, match="'col_labels' must have 1 entries"):
        rep.add_image_grid(name="g", images=[[np.zeros((4, 4))]], col_labels=["a", "b"])
    with pytest.raises(ValueError, match="'passed' must be a bool"):
        rep.add_check(name="c", passed="yes", numbers={}, explanation="e")
    assert rep.to_dict()["curves"] == rep.to_dict()["matrices"] == rep.to_dict()["image_grids"] == []


def test_file_names_sanitised_and_unique(tmp_path):
    rep = Report({})
    for model in ("a", "b"):  # same matrix name for two models: one PNG each
        rep.add_matrix(name="transfer_matrix", model=model, rows=["x"], cols=["y"], values=[[2.5]],
                       row_label="r", col_label="c")
    rep.add_matrix(name="Transfer matrix / L2?", rows=["x"], cols=["y"], values=[[0.5]], row_label="r",
                   col_label="c")
    rep.add_matrix(name="transfer-matrix L2", rows=["x"], cols=["y"], values=[[0.5]], row_label="r",
                   col_label="c")
    plots = rep.to_dict()["plots"]
    assert plots == ["transfer_matrix_a.png", "transfer_matrix_b.png", "transfer_matrix_l2.png",
                     "transfer-matrix_l2.png"]
    rep.write(tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 2.5 |" in md  # values outside [0, 1] are not shown as percentages


def test_load_refuses_newer_schema_and_missing_files(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({**Report({}).to_dict(), "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(ValueError, match="schema_version 2 is newer"):
        load(path)
    with pytest.raises(ValueError, match="no such file"):
        load(tmp_path / "nope" / "report.json")
    path.write_text("{half")
    with pytest.raises(ValueError, match="not valid JSON"):
        load(path)


def test_module_stays_light():
    code = "import sys; import eval.report; print('tensorflow' in sys.modules, 'matplotlib' in sys.modules)"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
