"""configs/zoo/: one config per shipped model, each parsing into the recipe its model card states."""
import os

import pytest
from absl import flags

import zoo
from tests.conftest import ROOT
from tests.trainers.conftest import make_trainer, tiny_config
from trainers import cli
from trainers.base import TRAINERS
from trainers.config import validate

ZOO = ROOT / "configs" / "zoo"
TRAINED = {"vanilla_resnet20": "vanilla", "pat_resnet20": "pgd", "pni_w_resnet20": "pni",
           "pni_w_noadv_resnet20": "pni", "robustnet_resnet20": "robustnet", "robustnet_adv_resnet20": "robustnet",
           "paramnet_resnet20": "paramnet", "anp_resnet20": "anp"}
CHANNELS = {"fc30_resnet20": "fft_compress:fraction=0.7", "fc50_resnet20": "fft_compress:fraction=0.5",
            "cd4_resnet20": "color_depth:bits=4", "svd50_resnet20": "svd_compress:rank=16",
            "gauss003_resnet20": "gaussian:stddev=0.03", "laplace003_resnet20": "laplace:scale=0.03",
            "uniform004_resnet20": "uniform:epsilon=0.04"}


def parse(name, method):
    cli.define_flags()
    fl = flags.FLAGS
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        fl.unparse_flags()
        fl(["trainer", f"--flagfile=configs/zoo/{name}.cfg"])
        return cli.config_from_flags(method)
    finally:
        fl.unparse_flags()
        os.chdir(cwd)


def test_one_config_per_zoo_model():
    names = {p.stem for p in ZOO.glob("*.cfg") if not p.stem.startswith("_")}
    assert names == set(TRAINED) | set(CHANNELS)


@pytest.mark.parametrize("name", sorted(TRAINED))
def test_trained_configs_parse_validate_and_share_the_recipe(name):
    config = validate(parse(name, TRAINED[name]), zoo.list_models(), TRAINERS)
    assert config.export_name == name and config.model == "resnet20" and config.variant.width == 1.0
    assert config.dataset == "../shared/data/cifar10_jpeg/1.0.0" and config.augment
    assert (config.lr_schedule, config.warmup_epochs, config.batch_size) == ("cosine", 1, 128)
    adversarial = name in ("pat_resnet20", "pni_w_resnet20", "robustnet_adv_resnet20")
    if adversarial:  # the same budget and adversary for the three adversarially trained models
        assert (config.epochs, config.steps, config.step_size, config.attack_bn) == (6, 7, 0.01, "eval")
        assert abs(config.eps - 8 / 255) < 1e-9
    if name == "pni_w_noadv_resnet20":
        assert config.variant.pni == "w" and config.w_adv == 0  # --pni=W, canonical name "w"
    if name.startswith("robustnet"):
        assert (config.variant.sigma_init, config.variant.sigma_inner) == ((0.1, 0.1) if adversarial else (0.2, 0.1))


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_channel_configs_name_their_channel(name):
    text = (ZOO / f"{name}.cfg").read_text()
    assert f"--channel={CHANNELS[name]}\n" in text and "--base_model=vanilla_resnet20\n" in text
    assert f"--export_name={name}\n" in text
    from zoo.layers.channels import make_channel
    make_channel(CHANNELS[name])  # the spec builds


def test_pni_without_adversarial_weight_makes_no_adversarial_examples(digits_batch, monkeypatch):
    trainer = make_trainer(tiny_config("pni", w_clean=1.0, w_adv=0.0))
    monkeypatch.setattr(type(trainer), "pgd", lambda *a, **k: pytest.fail("crafted an adversarial example"))
    x, y = digits_batch
    logs = trainer.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] > 0
