"""CI guards the zoo: every shipped model loads in plain TensorFlow and does what its card says, and the cards,
docs/leaderboard.json and docs/LEADERBOARD.md agree.

The accuracy check runs ``exported_models/check_accuracy.py`` in a fresh process that imports no module of this
project (TensorFlow, TFDS and NumPy only), on the first 500 test images of ``../shared``, and compares with
the card's "CI check" line within 1.5 points (random models: mean of 5 passes).
"""
import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

MODELS = ROOT / "exported_models"
CHECK = re.compile(r"\| CI check \| ([\d.]+) % clean on the first (\d+) test images")
TOLERANCE = 1.5  # points


def shipped():
    return sorted(p.name for p in MODELS.iterdir() if (p / "MODEL_CARD.md").is_file()) if MODELS.is_dir() else []


def newest(name):
    return max((p for p in (MODELS / name).iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def test_every_shipped_model_is_complete_small_and_tracked():
    names = shipped()
    if not names:
        pytest.skip("no model shipped yet (exported_models/<name>/MODEL_CARD.md)")
    total = 0
    for name in names:
        version = newest(name)
        for part in ("saved_model.pb", "variables/variables.index", "assets.extra/zoo_metadata.json",
                     "assets.extra/model.keras", "assets.extra/tf_serving_warmup_requests"):
            assert (version / part).is_file(), f"{name}: {part} missing in {version}"
        size = sum(f.stat().st_size for f in version.rglob("*") if f.is_file())
        assert size <= 5 * 2 ** 20, f"{name}: {size / 2 ** 20:.1f} MB > 5 MB"
        total += sum(f.stat().st_size for f in (MODELS / name).rglob("*") if f.is_file())
        assert CHECK.search((MODELS / name / "MODEL_CARD.md").read_text()), f"{name}: card has no CI check line"
        meta = json.loads((version / "assets.extra" / "zoo_metadata.json").read_text())
        assert meta["name"] == name and meta["provenance"]["commit"], f"{name}: metadata lacks name or commit"
    assert total <= 80 * 2 ** 20, f"shipped models take {total / 2 ** 20:.1f} MB > 80 MB"
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "exported_models"], capture_output=True,
                             text=True).stdout
    if tracked:  # in a git checkout: what is shipped is committed
        tracked = set(tracked.split())
        for name in names:  # every file of a shipped model: a model.keras the `*.keras` rule ignored would break zoo.load
            for f in (MODELS / name).rglob("*"):
                if f.is_file():
                    path = f.relative_to(ROOT).as_posix()
                    assert path in tracked, f"{path} is not committed (see .gitignore)"


def test_plain_tensorflow_reproduces_each_cards_accuracy(cifar_dir):
    names = shipped()
    if not names:
        pytest.skip("no model shipped yet (exported_models/<name>/MODEL_CARD.md)")
    dirs = [str(newest(n)) for n in names]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(MODELS / "check_accuracy.py"), f"--data={cifar_dir}", "--examples=500",
                           *dirs], capture_output=True, text=True, timeout=1200, cwd="/", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    for name, d in zip(names, dirs):
        card, examples = CHECK.search((MODELS / name / "MODEL_CARD.md").read_text()).groups()
        assert int(examples) == 500
        got = 100 * measured[d]["accuracy"]
        assert abs(got - float(card)) <= TOLERANCE, f"{name}: {got:.2f} % here, the card says {card} %"


def test_cards_and_leaderboard_agree():
    board_json = ROOT / "docs" / "leaderboard.json"
    if not board_json.is_file():
        pytest.skip("no leaderboard yet (python -m eval.leaderboard writes docs/leaderboard.json)")
    board = json.loads(board_json.read_text())
    markdown = (ROOT / "docs" / "LEADERBOARD.md").read_text()
    names = shipped()
    for row in board["rows"]:
        line = f"| {row['label']} | " + " | ".join(row["text"][k] for k in board["columns"]) + " |"
        assert line in markdown, f"LEADERBOARD.md lacks the row of {row['label']}"
        assert row["model"] in names, f"the board lists {row['model']}, which is not shipped"
        card = (MODELS / row["model"] / "MODEL_CARD.md").read_text()
        assert line in card, f"{row['model']}'s card lacks its leaderboard row {row['label']}"
        assert row["export"]["exported_at"] == json.loads(
            (newest(row["model"]) / "assets.extra" / "zoo_metadata.json").read_text())["exported_at"], \
            f"{row['model']}: the board measured another export than the one shipped"
