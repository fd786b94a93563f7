"""docs/REPRODUCTION.md (eval.leaderboard.reproduction) on hand-made board rows, metadata and channels reports:
verdicts follow the stated rules, a missing model gives "not measured yet" without a number, the Markdown lists
every claim with the paper's values, and ``run()`` writes it (fake exports + cached reports: no model runs).
Never asserts on what a real model predicts."""
import json
import os
import re

import pytest

from eval.leaderboard import cli, reproduction, reproduction_page
from eval.leaderboard import protocol as protocol_lib
from eval.leaderboard.reproduction import FAILS, HOLDS, PENDING

PROTOCOL = {"hash": "abc123", "steps": [20, 100], "num_examples": 1000, "cw_iterations": 10, "directions": 32,
            "boundary_examples": 50}


def acc(a, trials=1):
    return {"accuracy": a, "std": 0.01 if trials > 1 else 0.0, "trials": trials, "eot": trials, "num_examples": 1000}


def row(model, noise="on", **cells):
    """A board row as board.rows() makes it: accuracies as dicts, cw_l2 / mCE / W_f as numbers, None = empty."""
    keys = ("clean", "fgsm", "pgd-20", "pgd-100", "cw_acc", "cw_l2", "mCE", "relative_mCE", "mFR", "W_f", "seconds")
    out = {k: None for k in keys}
    for k, v in cells.items():
        out[k.replace("pgd", "pgd-")] = acc(v) if k in ("clean", "fgsm", "pgd20", "pgd100", "cw_acc") else v
    label = model if noise == "on" else f"{model} (noise off)"
    return {"model": model, "noise": noise, "label": label, "random": False, "cells": out, "paper": {},
            "export": {}, "cpu": "Fake CPU @ 2GHz", "version_dir": f"/x/{model}/1",
            "evaluated_at": "2025-01-02T03:04:05"}


def board(*rows, pending=()):
    return {"protocol": PROTOCOL, "rows": list(rows), "cpu": sorted({r["cpu"] for r in rows}), "pending": list(pending)}


def by_id(board_json, metadata=None, channels=None):
    return {c["id"]: c for c in reproduction.claims(board_json, metadata, channels)}


def alpha_meta(values, w_adv=0.5):
    return {"alpha": {f"conv{i}/alpha_weight": v for i, v in enumerate(values)},
            "training": {"method": "pni", "epochs": 6, "w_adv": w_adv}}


def test_pni_vs_pat_and_noise_off_follow_the_rule():
    pni_on = row("pni_w_resnet20", pgd20=0.45, pgd100=0.44)
    pni_off = row("pni_w_resnet20", "off", pgd20=0.30, pgd100=0.29)
    c = by_id(board(pni_on, pni_off, row("pat_resnet20", pgd20=0.39, pgd100=0.38)))
    assert c["2a"]["verdict"] == HOLDS and c["2b"]["verdict"] == HOLDS
    assert "45.0 %" in c["2a"]["ours"] and "39.0 %" in c["2a"]["ours"]
    # PAT ahead at PGD-100 only: "every PGD column" fails
    c = by_id(board(pni_on, row("pni_w_resnet20", "off", pgd20=0.50, pgd100=0.29),
                    row("pat_resnet20", pgd20=0.39, pgd100=0.46)))
    assert c["2a"]["verdict"] == FAILS and c["2b"]["verdict"] == FAILS


def test_alpha_rule_uses_the_metadata():
    adv = alpha_meta([0.15, 0.08, 0.77, 0.01])
    noadv = alpha_meta([0.003, 0.002, -0.004, 0.009], 0.0)
    assert by_id(board(), {"pni_w_resnet20": adv, "pni_w_noadv_resnet20": noadv})["1"]["verdict"] == HOLDS
    c = by_id(board(), {"pni_w_resnet20": adv, "pni_w_noadv_resnet20": alpha_meta([0.2, 0.2, 0.2, 0.2], 0.0)})["1"]
    assert c["verdict"] == FAILS and "ratio" in c["ours"]
    tiny = {"pni_w_resnet20": alpha_meta([0.002, 0.001]), "pni_w_noadv_resnet20": alpha_meta([1e-5, 1e-5], 0.0)}
    assert by_id(board(), tiny)["1"]["verdict"] == FAILS  # both collapsed: the adv. alphas are not "clearly > 0"
    c = by_id(board(), {"pni_w_resnet20": adv})["1"]  # noadv not shipped
    assert c["verdict"] == PENDING and "pni_w_noadv_resnet20" in c["why"] and "ratio" not in c["ours"]


def test_orderings_anp_and_channels_follow_the_rules():
    rows = [row("robustnet_adv_resnet20", pgd20=0.50, pgd100=0.48, cw_acc=0.3, cw_l2=0.6),
            row("pni_w_resnet20", pgd20=0.45, pgd100=0.44, cw_acc=0.2, cw_l2=0.5),
            row("pat_resnet20", pgd20=0.40, pgd100=0.39, cw_acc=0.1, mCE=98.0),
            row("robustnet_resnet20", pgd20=0.10, pgd100=0.05, cw_acc=0.4, cw_l2=0.9),
            row("paramnet_resnet20", pgd20=0.0, pgd100=0.0, cw_acc=0.0, cw_l2=0.2),
            row("anp_resnet20", mCE=80.0, W_f=40.0), row("vanilla_resnet20", mCE=100.0, W_f=30.0)]
    rows += [row(n, pgd20=0.02, pgd100=0.01) for n in reproduction.CHANNELS]
    c = by_id(board(*rows))
    assert {k: c[k]["verdict"] for k in ("3a", "3b", "4b", "5", "6a", "6b")} == dict.fromkeys(
        ("3a", "3b", "4b", "5", "6a", "6b"), HOLDS)
    rows[0] = row("robustnet_adv_resnet20", pgd20=0.40, pgd100=0.48, cw_acc=0.1)  # below PNI-W at PGD-20 and C&W
    rows[5] = row("anp_resnet20", mCE=99.0, W_f=20.0)   # mCE above PAT's 98, W_f below vanilla's
    rows[-1] = row("uniform004_resnet20", pgd20=0.30, pgd100=0.2)  # one channel survives the adaptive attack
    c = by_id(board(*rows))
    assert {k: c[k]["verdict"] for k in ("3a", "3b", "4b", "6a", "6b")} == dict.fromkeys(
        ("3a", "3b", "4b", "6a", "6b"), FAILS)
    assert "robustnet_adv >= pni_w: NO" in c["3a"]["ours"] and "pni_w >= pat: yes" in c["3a"]["ours"]  # the link
    assert c["5"]["verdict"] == HOLDS


def _channels_report(laplace_row, curves_close=True):
    labels = ["FC", "CD", "SVD", "Gauss", "Uniform", "Laplace"]
    values = [[0.93] * 6] + [[0.05 if i == j else 0.45 for j in range(6)] for i in range(5)] + [laplace_row]
    far = 0.0 if curves_close else 0.4
    curves = [{"name": "accuracy_vs_distortion", "model": "vanilla_resnet20", "series": s, "x": [0, 5, 10, 30],
               "y": [0.93, 0.85 - (far if s == "CD" else 0), 0.7, 0.3]} for s in labels]
    return {"matrices": [{"name": "transfer_matrix", "model": "vanilla_resnet20", "rows": ["Empty"] + labels,
                          "cols": labels, "values": values, "paper": "Study Table 1"}], "curves": curves}


def test_channels_report_claims():
    c = by_id(board(), channels=_channels_report([0.03, 0.2, 0.2, 0.2, 0.2, 0.4]))
    assert c["4c"]["verdict"] == HOLDS and c["4a"]["verdict"] == HOLDS
    c = by_id(board(), channels=_channels_report([0.03, 0.6, 0.6, 0.6, 0.6, 0.4], curves_close=False))
    assert c["4c"]["verdict"] == FAILS and c["4a"]["verdict"] == FAILS
    c = by_id(board())  # no channels report: pending, with the command that makes it
    assert c["4a"]["verdict"] == c["4c"]["verdict"] == PENDING and "--suite=channels" in c["4c"]["why"]


def test_missing_models_are_not_measured_yet_and_show_no_number():
    for cl in reproduction.claims(board()):
        assert cl["verdict"] == PENDING, cl["id"]
        assert not re.search(r"\d+\.\d", cl["ours"]) and "%" not in cl["ours"], cl
    c = by_id(board(row("pni_w_resnet20", pgd20=0.45, pgd100=0.44)))["2a"]  # PAT not on the board
    assert c["verdict"] == PENDING and "pat_resnet20" in c["why"]
    assert "45.0 %" in c["ours"] and "pat_resnet20:" not in c["ours"]
    c = by_id(board(row("anp_resnet20", mCE=80.0, W_f=None), row("vanilla_resnet20", mCE=100.0, W_f=30.0)))["6b"]
    assert c["verdict"] == PENDING and "anp_resnet20: W_f" in c["why"]  # the model is there, the measurement not


def test_markdown_lists_every_claim_with_the_paper_values():
    md = reproduction_page.markdown(board(row("pat_resnet20", pgd20=0.39), pending=["anp_resnet20"]))
    assert "do not edit by hand" in md and "`abc123`" in md and "2025-01-02" in md and "Fake CPU" in md
    for cid, text, paper, needs, rule, _ in reproduction.CLAIMS:
        assert f"| {cid} | {text} |" in md and f"### {cid}. {text}" in md
        assert f"- needs: {needs}" in md and f"- rule: {rule}" in md and f"- paper: {paper}" in md
    for value in ("0.009", "0.771", "45.94", "39.14", "31.45", "23.8", "above 45%", "75.7", "98.6", "47.36",
                  "29.46", "Table 1", "Table 2", "Fig. 4", "Table 11"):
        assert value in md, value
    assert md.count(f"**{PENDING}**") == 2 * len(reproduction.CLAIMS)  # summary table + section
    assert "anp_resnet20" in md.split("## Claims")[1].splitlines()[-1]


def _fake_export(root, name, meta):
    version = root / name / "1"
    (version / "assets.extra").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"")
    (version / "assets.extra" / "zoo_metadata.json").write_text(json.dumps(meta))
    (root / name / "MODEL_CARD.md").write_text(f"# {name}\n")
    return str(version)


def _fake_report(work_dir, name, version_dir, protocol, pgd, random=False):
    key, _ = protocol_lib.model_key(version_dir, protocol)
    results = [{"model": name, "attack": "clean", "params": {}, "accuracy": 0.8, "std": 0.0, "trials": 1, "eot": 1,
                "bpda": False, "seed": 0, "seconds": 1.0, "num_examples": 8, "suite": protocol_lib.CLEAN_SUITE}]
    for label, a in ((name, pgd),) + (((f"{name} (noise off)", pgd / 2),) if random else ()):
        results += [{"model": label, "attack": "pgd", "params": {"eps": protocol.eps, "steps": k},
                     "accuracy": a, "std": 0.0, "trials": 1, "eot": 1, "bpda": False, "seed": 0, "seconds": 1.0,
                     "num_examples": 4, "suite": "whitebox"} for k in protocol.steps]
    report = {"schema_version": 1, "results": results, "curves": [], "matrices": [], "checks": [], "histograms": [],
              "image_grids": [], "plots": [],
              "meta": {"models": {name: {"is_random": random}}, "started_at": "2025-02-03T04:05:06",
                       protocol_lib.KEY: {"key": key, "name": name, "seconds": 2.0, "cpu": "Fake CPU",
                                          "protocol": protocol.as_dict(), "export": {"version": 1}}}}
    os.makedirs(os.path.join(work_dir, name))
    with open(protocol_lib.report_path(work_dir, name), "w") as f:
        json.dump(report, f)


def test_run_writes_reproduction_beside_the_board(tmp_path, monkeypatch):
    root, work = tmp_path / "shipped", str(tmp_path / "work")
    monkeypatch.setenv("ZOO_PRETRAINED_DIR", str(root))
    protocol = protocol_lib.Protocol(suites=("whitebox",), steps=(20, 100))
    metas = {"pni_w_resnet20": alpha_meta([0.2, 0.1]), "pni_w_noadv_resnet20": alpha_meta([0.002, 0.003], 0.0),
             "pat_resnet20": {"training": {"method": "pgd", "epochs": 6}}}
    for name, meta in metas.items():
        version = _fake_export(root, name, {**meta, "exported_at": "2025-02-01T00:00:00", "version": 1})
        if name != "pni_w_noadv_resnet20":  # shipped, not evaluated: its alphas still count for claim 1
            _fake_report(work, name, version, protocol, 0.45 if name == "pni_w_resnet20" else 0.39,
                         random=name == "pni_w_resnet20")
    monkeypatch.setattr(protocol_lib, "evaluate", lambda *a, **k: pytest.fail("nothing should be evaluated"))
    out = tmp_path / "docs"
    with pytest.raises(cli.ZooError, match="--channels_report"):
        cli.run(protocol, [], work, str(out / "LB.md"), str(out / "lb.json"), str(out / "plots"),
                update_cards=False, verbose=False, reproduction_path=str(out / "R.md"),
                channels_report=str(tmp_path / "nope.json"))
    result = cli.run(protocol, ["pni_w_resnet20", "pat_resnet20"], work, str(out / "LB.md"), str(out / "lb.json"),
                     str(out / "plots"), update_cards=False, verbose=False, reproduction_path=str(out / "R.md"))
    assert sorted(result["cached"]) == ["pat_resnet20", "pni_w_resnet20"]
    assert result["json"]["pending"] == ["pni_w_noadv_resnet20"]
    md = (out / "R.md").read_text()
    assert f"`{protocol.digest()}`" in md and "[LB.md](LB.md)" in md and "2025-02-03" in md
    claims = {line.split("|")[1].strip(): line.split("|")[-2].strip() for line in md.splitlines()
              if re.match(r"\| \d[a-c]? \|", line)}
    assert claims["1"] == f"**{HOLDS}**" and claims["2a"] == f"**{HOLDS}**" and claims["2b"] == f"**{HOLDS}**"
    assert claims["6a"] == f"**{PENDING}**" and len(claims) == len(reproduction.CLAIMS)


def test_channels_report_default_is_read_only_when_committed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.report_path_flag(cli.CHANNELS_REPORT, explicit=False) is None  # not there yet: not measured
    os.makedirs(os.path.dirname(cli.CHANNELS_REPORT))
    open(cli.CHANNELS_REPORT, "w").close()
    assert cli.report_path_flag(cli.CHANNELS_REPORT, explicit=False) == cli.CHANNELS_REPORT
    assert cli.report_path_flag("", explicit=True) is None  # --channels_report= turns it off
    assert cli.report_path_flag("elsewhere.json", explicit=True) == "elsewhere.json"  # must exist: load fails
    with pytest.raises(cli.ZooError, match="--channels_report=elsewhere.json"):
        cli.load_report("elsewhere.json")


def test_a_cw_that_fools_nothing_decides_no_claim():
    """Claims 3b and 5 read C&W accuracy: when C&W costs every compared model less than CW_WEAK of its clean
    accuracy (random models: the noise flips as much), the verdict says the attack was too weak, not a ranking."""
    from eval.leaderboard.reproduction import CW_WEAK, WEAK
    weak = [row("robustnet_resnet20", clean=0.83, cw_acc=0.82, cw_l2=0.01),
            row("paramnet_resnet20", clean=0.81, cw_acc=0.83, cw_l2=0.004),
            row("robustnet_adv_resnet20", clean=0.56, cw_acc=0.57), row("pni_w_resnet20", clean=0.70, cw_acc=0.71)]
    c = by_id(board(*weak))
    assert c["5"]["verdict"] == c["3b"]["verdict"] == WEAK
    assert "paramnet +-2.0" not in c["5"]["why"] and "paramnet -2.0" in c["5"]["why"]  # drop shown, signed
    assert "82.0 %" in c["5"]["ours"]  # the measured numbers stay on the page
    # one model losing CW_WEAK or more to C&W makes the comparison a measurement again
    strong = weak[:]
    strong[1] = row("paramnet_resnet20", clean=0.81, cw_acc=0.81 - CW_WEAK - 0.01)
    assert by_id(board(*strong))["5"]["verdict"] == HOLDS
    md = reproduction_page.markdown(board(*weak))
    assert f"**{WEAK}**" in md and "2 attack too weak to decide" in md


def _l2_report(accs, eps=0.5):
    """An eval report as `python -m eval --suite=whitebox --attacks=pgd_l2` writes it (results only matter)."""
    from eval.report import Report
    report = Report({"command": "python -m eval", "models": {n: {} for n in accs}})
    common = dict(bpda=False, seed=0, seconds=1.0, num_examples=1000)
    for name, a in accs.items():
        report.add_result(model=name, attack="clean", params={}, accuracy=0.8, trials=1, eot=1, **common)
        report.add_result(model=name, attack="pgd_l2", params={"eps": eps, "steps": 20, "step_size": 0.1},
                          accuracy=a, std=0.01, trials=2, eot=4, noise="on", **common)
    return report


def test_the_l2_report_decides_the_cw_claims_when_it_covers_them(tmp_path):
    """With EOT PGD-L2 at 0.5 (the paper's distortion) for the models a claim names, 3b and 5 follow it, even
    where the board's C&W was too weak; a report missing a model leaves the C&W rule in charge."""
    from eval.leaderboard.reproduction import WEAK
    weak = [row("robustnet_resnet20", clean=0.83, cw_acc=0.82), row("paramnet_resnet20", clean=0.81, cw_acc=0.83),
            row("robustnet_adv_resnet20", clean=0.56, cw_acc=0.57), row("pni_w_resnet20", clean=0.70, cw_acc=0.71)]
    report = _l2_report({"robustnet_resnet20": 0.30, "paramnet_resnet20": 0.05, "robustnet_adv_resnet20": 0.20,
                         "pni_w_resnet20": 0.25})
    path = report.write(str(tmp_path / "l2"))["json"]
    loaded = cli.load_report(path, "l2_report")
    c = {x["id"]: x for x in reproduction.claims(board(*weak), l2_report=loaded)}
    assert c["5"]["verdict"] == HOLDS and c["3b"]["verdict"] == FAILS
    assert "30.0 ± 1.0 %" in c["5"]["ours"] and "EOT 4" in c["5"]["ours"] and "C&W acc" in c["5"]["ours"]
    assert "L2 report" in c["5"]["why"]
    partial = _l2_report({"robustnet_resnet20": 0.30})  # paramnet missing: C&W (too weak) decides
    c = {x["id"]: x for x in reproduction.claims(board(*weak), l2_report=partial.to_dict())}
    assert c["5"]["verdict"] == WEAK and "--attacks=pgd_l2" in c["5"]["why"]
    other_eps = _l2_report({"robustnet_resnet20": 0.30, "paramnet_resnet20": 0.05}, eps=1.0)  # not the paper's 0.5
    assert {x["id"]: x for x in reproduction.claims(board(*weak), l2_report=other_eps.to_dict())}["5"]["verdict"] == WEAK
    with pytest.raises(cli.ZooError, match="--l2_report=.*no pgd_l2 row"):  # some other report
        bad = _l2_report({})
        bad.add_result(model="m", attack="clean", params={}, accuracy=0.5, trials=1, eot=1, bpda=False, seed=0,
                       seconds=1.0, num_examples=10)
        cli.load_report(bad.write(str(tmp_path / "bad"))["json"], "l2_report")
    md = reproduction_page.markdown(board(*weak), l2_report=loaded, l2_path="docs/leaderboard/l2/report.json")
    assert "the L2 report `docs/leaderboard/l2/report.json`" in md
