"""python -m eval.leaderboard on two tiny untrained exports (LeNet-5, one behind a Gaussian input channel, so
random), fed synthetic 32x32x3 images (the corruption suites need CIFAR-sized inputs). Structure, consistency
and the cache are checked, never what the untrained models predict."""
import json
import os
import re

import numpy as np
import pytest

from eval.leaderboard import board, cli
from eval.leaderboard import protocol as protocol_lib

CARD_HEAD = "# {name}\n\nHand-written text that must survive.\n"
CARD_TAIL = "\nTrailing notes, also kept.\n"

TINY = ["--clean_examples=8", "--num_examples=4", "--trials=2", "--eot=2", "--steps=1,2", "--eps_curve_steps=1",
        "--steps_list=1,2", "--eps_list=0,8/255", "--cw_iterations=1", "--sequence_examples=2", "--boundary_examples=2",
        "--directions=4", "--batch_size=8", "--dataset=synthetic32", "--baseline=plain"]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    import keras

    import zoo
    keras.utils.set_random_seed(1)  # weights whose decision changes along the W_f rays (see the report: eval bug)
    root = tmp_path_factory.mktemp("shipped")
    for name, kw in (("plain", {}), ("noisy", {"channel": "gaussian:stddev=0.03"})):
        zoo.export(zoo.create("lenet5", input_shape=(32, 32, 3), width=0.25, **kw), str(root), name=name)
    # plain's card has markers already (with stale text between them); noisy's has none
    (root / "plain" / "MODEL_CARD.md").write_text(CARD_HEAD.format(name="plain") + "\n" + board.BEGIN + "\nstale\n"
                                                  + board.END + "\n" + CARD_TAIL)
    (root / "noisy" / "MODEL_CARD.md").write_text(CARD_HEAD.format(name="noisy"))
    return root


@pytest.fixture
def env(shipped, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_PRETRAINED_DIR", str(shipped))
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 32, 32, 3)).astype(np.float32), rng.integers(0, 10, 8)
    monkeypatch.setattr(protocol_lib, "load_images", lambda protocol, n: (x[:n], y[:n]))
    calls = []
    real = protocol_lib.evaluate
    monkeypatch.setattr(protocol_lib, "evaluate", lambda name, *a, **kw: (calls.append(name), real(name, *a, **kw))[1])
    out = tmp_path / "out"
    paths = [f"--work_dir={out / 'work'}", f"--markdown={out / 'LEADERBOARD.md'}", f"--json={out / 'lb.json'}",
             f"--plots_dir={out / 'leaderboard'}", f"--cache_dir={tmp_path / 'cache'}",
             f"--reproduction={out / 'REPRODUCTION.md'}"]
    return {"calls": calls, "out": out, "argv": ["leaderboard"] + TINY + paths, "root": shipped}


def _table_rows(markdown):
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| model"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_board_json_markdown_and_cards_agree_and_the_cache_is_honest(env, shipped):
    cli.main(env["argv"])
    assert sorted(env["calls"]) == ["noisy", "plain"]
    out = env["out"]
    data = json.loads((out / "lb.json").read_text())
    md = (out / "LEADERBOARD.md").read_text()
    keys = data["columns"]
    assert keys == ["clean", "fgsm", "pgd-1", "pgd-2", "cw_acc", "cw_l2", "mCE", "relative_mCE", "mFR", "W_f",
                    "seconds"]
    labels = [r["label"] for r in data["rows"]]
    assert sorted(labels) == ["noisy", "noisy (noise off)", "plain"]  # noise-off row only for the random model
    md_rows = _table_rows(md.split("## Results")[1])
    assert sorted(md_rows) == sorted(labels)
    for row in data["rows"]:
        cells = row["cells"]
        for k in ("clean", "fgsm", "pgd-1", "pgd-2", "cw_acc"):
            assert 0 <= cells[k]["accuracy"] <= 1 and cells[k]["std"] >= 0
            # the same number in JSON, its text and the Markdown table
            assert md_rows[row["label"]][keys.index(k)] == row["text"][k] == board.cell(row, k)
            pct = f"{100 * cells[k]['accuracy']:.2f}"
            assert row["text"][k].startswith(pct)
        assert cells["clean"]["num_examples"] == 8 and cells["fgsm"]["num_examples"] == 4
        if row["noise"] == "on":
            assert cells["seconds"] > 0 and np.isfinite(cells["W_f"]) and cells["W_f"] >= 0
        else:
            assert cells["mCE"] is None and cells["W_f"] is None and cells["seconds"] is None
    noisy = next(r for r in data["rows"] if r["label"] == "noisy")
    plain = next(r for r in data["rows"] if r["label"] == "plain")
    assert noisy["random"] and not plain["random"]
    assert noisy["cells"]["pgd-2"]["trials"] == 2 and noisy["cells"]["pgd-2"]["eot"] == 2  # mean ± std over trials
    assert " ± " in noisy["text"]["pgd-2"] and " ± " not in plain["text"]["pgd-2"]
    assert plain["cells"]["pgd-2"]["trials"] == 1 and plain["cells"]["pgd-2"]["eot"] == 1
    if plain["cells"]["mCE"] is not None:  # the baseline scores 100 wherever its CE is defined
        assert plain["cells"]["mCE"] == pytest.approx(100.0)
    if plain["cells"]["mFR"] is not None:
        assert plain["cells"]["mFR"] == pytest.approx(100.0)
    assert data["protocol"]["num_examples"] == 4 and data["protocol"]["baseline"] == "plain"
    assert set(data["seconds"]) == {"plain", "noisy"} and data["total_seconds"] > 0
    assert plain["export"]["version"] == 1 and plain["export"]["exported_at"]
    assert "CPU:" in md and "## Protocol" in md.split("## Results")[0]
    for png in data["plots"]:
        assert (out / png).stat().st_size > 1000
    assert len(data["plots"]) == 2
    assert "do not edit by hand" in (out / "REPRODUCTION.md").read_text()  # the claims page, same command

    # the cards: text outside the markers untouched, the block inside has the board's rows verbatim
    for name in ("plain", "noisy"):
        card = (shipped / name / "MODEL_CARD.md").read_text()
        assert card.startswith(CARD_HEAD.format(name=name)) and card.count(board.BEGIN) == 1
        assert "stale" not in card
        block = card[card.index(board.BEGIN):card.index(board.END)]
        card_rows = _table_rows(block)
        assert sorted(card_rows) == sorted(lbl for lbl in labels if lbl.startswith(name))
        for label, cells in card_rows.items():
            assert cells == md_rows[label]
    assert (shipped / "plain" / "MODEL_CARD.md").read_text().endswith(board.END + "\n" + CARD_TAIL)
    first_card = (shipped / "noisy" / "MODEL_CARD.md").read_text()

    # rerun: both cached, nothing evaluated, same numbers, card rewritten identically
    env["calls"].clear()
    cli.main(env["argv"])
    assert env["calls"] == []
    again = json.loads((out / "lb.json").read_text())
    assert [r["cells"] for r in again["rows"]] == [r["cells"] for r in data["rows"]]
    assert (shipped / "noisy" / "MODEL_CARD.md").read_text() == first_card

    # a changed protocol re-evaluates (here only --models=plain, light suite); noisy is then pending
    light = env["argv"] + ["--models=plain", "--suites=boundary"]
    cli.main(light)
    assert env["calls"] == ["plain"]
    board_now = json.loads((out / "lb.json").read_text())
    assert board_now["pending"] == ["noisy"] and [r["label"] for r in board_now["rows"]] == ["plain"]
    assert board_now["protocol"]["hash"] != data["protocol"]["hash"]
    cli.main(light)
    assert env["calls"] == ["plain"]  # cached under the new protocol too

    # a new export of plain (version 2) re-evaluates it
    import zoo
    zoo.export(zoo.create("lenet5", input_shape=(32, 32, 3), width=0.25), str(shipped), name="plain")
    cli.main(light)
    assert env["calls"] == ["plain", "plain"]
    row = json.loads((out / "lb.json").read_text())["rows"][0]
    assert row["export"]["version"] == 2 and row["version_dir"].endswith(os.path.join("plain", "2"))


def test_unknown_model_is_a_one_line_usage_error(env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(env["argv"] + ["--models=plain,resnet_nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "resnet_nope" in err
    assert re.search(r"expected some of .*noisy.*plain", err)
    assert env["calls"] == []


def test_paper_numbers_name_their_source():
    from eval.leaderboard.papers import MISSING, PAPER
    for name, entry in PAPER.items():
        assert entry["source"] and entry["setting"] and name not in MISSING
        for noise in ("on", "off"):
            for mean, std in entry.get(noise, {}).values():
                assert 0 <= mean <= 100 and (std is None or std >= 0)
    assert PAPER["pni_w_resnet20"]["on"]["pgd"] == (45.94, 0.11)


def test_the_cpu_preset_is_the_default_protocol_with_less_work_on_random_models():
    """configs/leaderboard/cpu.cfg (what `make leaderboard` runs) parses, and changes only what its header says."""
    import dataclasses

    from eval.leaderboard.protocol import Protocol
    preset_file = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "configs", "leaderboard", "cpu.cfg")
    cli.parse(["leaderboard", f"--flagfile={preset_file}"])
    preset = cli.protocol_from_flags()
    changed = {k for k, v in dataclasses.asdict(preset).items() if v != getattr(Protocol(), k)}
    assert changed == {"trials", "eot", "steps_list"}
    assert (preset.trials, preset.eot) == (2, 4) and set(preset.steps) <= set(preset.steps_list)


def test_a_run_cut_off_part_way_resumes_from_its_journal(env, monkeypatch):
    """A board run killed mid-model keeps its finished rows (journal.jsonl beside the report); the same command
    then computes only the rest, and the rows of the first session reach the report unchanged."""
    from eval.suites import context
    real, calls = context.evaluate, []

    def counted(*a, **kw):
        if len(calls) == limit:
            raise KeyboardInterrupt  # what a session's end does to a background run
        calls.append(a[3])  # the attack
        return real(*a, **kw)

    monkeypatch.setattr(context, "evaluate", counted)
    argv = env["argv"] + ["--models=noisy", "--suites=whitebox"]
    limit = None
    fresh = [a.replace(str(env["out"] / "work"), str(env["out"] / "fresh")) for a in argv]
    cli.main(fresh)  # uninterrupted, for the number of rows a whole run computes
    total, calls[:] = len(calls), []
    assert total > 4
    limit = 3
    with pytest.raises(KeyboardInterrupt):
        cli.main(argv)
    work = env["out"] / "work" / "noisy"
    assert not (work / "report.json").exists()  # nothing half-written
    journal = [json.loads(line) for line in (work / protocol_lib.JOURNAL).read_text().splitlines()]
    assert len(journal) == 1 + 3 and "journal" in journal[0]
    first = [entry["row"] for entry in journal[1:]]

    calls[:], limit = [], None
    cli.main(argv)
    assert len(calls) == total - 3  # only what the first session had not finished
    assert not (work / protocol_lib.JOURNAL).exists()  # removed once report.json is written
    report = json.loads((work / "report.json").read_text())
    assert report["meta"]["leaderboard"]["resumed_rows"] == 3
    assert report["meta"]["leaderboard"]["seconds"] >= sum(r["seconds"] for r in first)
    stored = [{k: r.get(k) for k in ("attack", "params", "accuracy", "std", "seconds")} for r in report["results"]]
    for row in first:
        assert {k: row.get(k) for k in ("attack", "params", "accuracy", "std", "seconds")} in stored
    fresh_report = json.loads((env["out"] / "fresh" / "noisy" / "report.json").read_text())
    assert sorted((r["model"], r["attack"], json.dumps(r["params"], sort_keys=True)) for r in report["results"]) == \
        sorted((r["model"], r["attack"], json.dumps(r["params"], sort_keys=True)) for r in fresh_report["results"])


def test_the_journal_ignores_a_torn_line_and_another_runs_rows(tmp_path):
    from eval.suites.journal import Journal
    path = str(tmp_path / "journal.jsonl")
    journal = Journal(path, {"protocol": "a"})
    assert journal.restored == 0 and journal.get(("m", "pgd")) is None
    row = {"attack": "pgd", "accuracy": 0.25, "seconds": 2.0}
    journal.put(("m", "pgd"), row, [np.array([True, False])])
    with open(path, "a") as f:
        f.write('{"key": "[\\"m\\", \\"fgsm\\"]", "row": {"acc')  # the process died mid-line
    again = Journal(path, {"protocol": "a"})
    assert again.restored == 1 and again.restored_seconds == 2.0 and again.get(("m", "fgsm")) is None
    back, correct = again.get(("m", "pgd"))
    assert back == row and [c.tolist() for c in correct] == [[True, False]]
    again.put(("m", "fgsm"), row, [])  # appended after the torn tail was dropped: the file still parses
    assert Journal(path, {"protocol": "a"}).restored == 2
    other = Journal(path, {"protocol": "b"})  # another export or protocol: its rows are not ours
    assert other.restored == 0 and other.get(("m", "pgd")) is None
    other.remove()
    assert not os.path.exists(path)
