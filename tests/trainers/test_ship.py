"""`python -m trainers.ship`: a trained export becomes a zoo model with its card, curves and git tracking."""
import json

import pytest

from tests.trainers.conftest import tiny_config
from trainers import run, ship
from zoo.errors import ZooError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-epoch PNI-W digits run (alphas in the history), exported under a fresh root."""
    root = tmp_path_factory.mktemp("shipped")
    config = tiny_config("pni", pni="W", num_train_examples=96, num_eval_examples=64, lr_schedule="cosine",
                         warmup_epochs=1, run_dir=str(root / "runs"), export_dir=str(root / "models"),
                         export_name="tiny_pni")
    run.train(config, verbose=0)
    cfg = root / "tiny_pni.cfg"
    cfg.write_text("# Tiny PNI-W on digits: the recipe note.\n# Second line of the note.\n--model=resnet20\n")
    return root, cfg


def test_card_curves_and_gitignore(trained):
    root, cfg = trained
    gitignore = root / ".gitignore"
    gitignore.write_text("models/*\n")
    card, size, _ = ship.ship("tiny_pni", str(cfg), str(root / "models"), str(gitignore))
    text = open(card).read()
    meta = json.loads((root / "models" / "tiny_pni" / "1" / "assets.extra" / "zoo_metadata.json").read_text())
    assert meta["history"]["loss"] and any(k.startswith("alpha:") for k in meta["history"])  # alphas kept per epoch
    assert "Tiny PNI-W on digits: the recipe note. Second line of the note." in text
    assert f"python -m trainers.pni --flagfile={cfg}" in text
    assert meta["provenance"]["commit"] is None or meta["provenance"]["commit"] in text
    assert meta["provenance"]["cpu"] in text and "2 epochs" in text and "cosine schedule" in text
    assert "adversary PGD-2" in text and ship.BEGIN in text and ship.END in text
    jit = meta["provenance"]["sessions"][0]["jit"]  # --jit_compile=auto's decision, and why, in metadata and card
    assert jit["jit_compile"] is False and f"XLA: {jit['why']}" in text and "cannot repay" in jit["why"]
    assert (root / "models" / "tiny_pni" / "curves.png").stat().st_size > 1000
    assert not (root / "models" / "tiny_pni" / ".export.lock").exists()
    assert 0 < size < ship.MODEL_LIMIT
    assert gitignore.read_text().splitlines()[-1] == f"!/{str(root / 'models').strip('/')}/tiny_pni/"
    # shipping again keeps the leaderboard's block and adds no second gitignore line
    measured = f"{ship.BEGIN}\n| clean | 12.3 % |\n{ship.END}"
    open(card, "w").write(text.replace(text[text.index(ship.BEGIN):text.index(ship.END) + len(ship.END)], measured))
    ship.ship("tiny_pni", str(cfg), str(root / "models"), str(gitignore))
    assert measured in open(card).read()
    assert gitignore.read_text().count("tiny_pni") == 1


def test_refuses_what_cannot_ship(trained, monkeypatch):
    root, cfg = trained
    with pytest.raises(ZooError, match=r"--name=nope: no export in .*nope: expected"):
        ship.ship("nope", str(cfg), str(root / "models"), str(root / ".gitignore"))
    with pytest.raises(ZooError, match=r"--config=missing.cfg: no such file"):
        ship.ship("tiny_pni", "missing.cfg", str(root / "models"), str(root / ".gitignore"))
    monkeypatch.setattr(ship, "MODEL_LIMIT", 1000)
    with pytest.raises(ZooError, match=r"MB: expected at most 5 MB per shipped model"):
        ship.ship("tiny_pni", str(cfg), str(root / "models"), str(root / ".gitignore"))


@pytest.mark.parametrize("training, expected", [
    (dict(method="robustnet", adversarial=False), "; clean images only"),
    (dict(method="robustnet", adversarial=True, steps=7, eps=8 / 255, step_size=0.01, attack_bn="eval"),
     "; adversary PGD-7 eps 8/255 step 0.01 (batch norm: eval), from epoch 0"),
    (dict(method="pni", w_adv=0.0), "; clean images only (w_adv = 0)"),
    (dict(method="anp", anp_layers=4, anp_clean_epochs=1, anp_phases=[dict(eta=1.0, eps=1.0, k=3, epochs=4)]),
     "; ANP noise on the first 4 hidden layers after 1 clean epoch: eta 1.0 eps 1.0 k 3 for 4 epochs"),
    (dict(method="nat", attack_bn="eval"), "; adversary Step-LL (batch norm: eval)"),
])
def test_card_names_the_adversary_each_method_trained_with(training, expected):
    assert ship._adversary_text(training) == expected
