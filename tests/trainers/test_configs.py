"""Every configs/*.cfg parses (flagfile -> absl flags -> TrainConfig -> validate) and builds its model.

Also checks, per layer of the built model, the noise scales the papers give: RobustNet 0.2 before the
first conv and 0.1 inside, RobustNet Adv. 0.1 everywhere (Study sec. 3.7), ANP's hidden-noise
baseline 0.1 on every hidden layer, ParamNet's fixed weight-noise scale, and the band-limited convs.
"""
import glob
import os

import keras
import pytest
from absl import flags

import zoo
from tests.conftest import ROOT
from trainers import cli
from trainers.base import TRAINERS
from trainers.config import validate
from zoo.layers import FFTCompress, GaussianNoiseLayer, ParamNoiseConv2D, ParamNoiseDense

CONFIGS = sorted(os.path.basename(p) for p in glob.glob(str(ROOT / "configs" / "*.cfg")))
FRAGMENTS = {"smoke.cfg"}  # included by other configs, not a setup of its own

# Which trainer runs a config (``python -m trainers.<method> --flagfile=configs/<name>``), by prefix.
METHOD_BY_PREFIX = {
    "anp_": "anp", "bandlimited_": "vanilla", "eat_": "eat", "gaussian_": "vanilla", "lat_": "lat", "nat_": "nat",
    "paramnet_": "paramnet", "pat_": "pgd", "pni_": "pni", "robustnet_": "robustnet", "vanilla_": "vanilla",
}
# What a smoke twin may change relative to its full config (data, size, length, names).
SMOKE_FIELDS = {"dataset", "num_train_examples", "num_eval_examples", "width", "batch_size", "epochs",
                "lr_boundaries", "adv_start_epoch", "run_dir", "export_name", "steps", "anp_clean_epochs",
                "anp_phases", "eat_holdout"}


def method_of(name):
    matches = [m for prefix, m in METHOD_BY_PREFIX.items() if name.startswith(prefix)]
    assert len(matches) == 1, f"configs/{name}: no trainer known for its prefix; add it to METHOD_BY_PREFIX"
    return matches[0]


def parse(name):
    """The TrainConfig that ``python -m trainers.<method> --flagfile=configs/<name>`` would run."""
    cli.define_flags()
    fl = flags.FLAGS
    cwd = os.getcwd()
    os.chdir(ROOT)  # nested --flagfile lines are relative to the checkout root
    try:
        fl.unparse_flags()
        fl(["trainer", f"--flagfile=configs/{name}"])
        return cli.config_from_flags(method_of(name))
    finally:
        fl.unparse_flags()
        os.chdir(cwd)


def build(config, width=0.125):
    cls = TRAINERS[config.method]
    options = {**cls.model_options(config), "width": width}
    return zoo.create(config.model, num_classes=10, input_shape=(32, 32, 3), **options)


def layers_of(model, types):
    return [layer for layer in model._flatten_layers() if isinstance(layer, types)]


def test_there_are_configs_and_every_one_has_a_known_trainer():
    setups = [c for c in CONFIGS if c not in FRAGMENTS]
    assert len(setups) >= 40
    for name in setups:
        assert method_of(name) in TRAINERS


@pytest.mark.parametrize("name", [c for c in CONFIGS if c not in FRAGMENTS])
def test_config_parses_validates_and_builds(name):
    config = parse(name)
    validate(config, zoo.list_models(), TRAINERS)
    model = build(config)
    assert model.output_shape == (None, 10)
    if name.endswith("_smoke.cfg"):
        full = parse(name.replace("_smoke.cfg", ".cfg"))
        flat, full_flat = config.as_dict(), full.as_dict()  # the flags' names (Variant fields flat)
        changed = {k for k, v in flat.items() if v != full_flat[k]}
        assert changed <= SMOKE_FIELDS, f"{name} changes {sorted(changed - SMOKE_FIELDS)} of its full config"
        assert config.variant.width <= 1.0 and config.num_train_examples <= 256 and config.epochs <= 3


@pytest.mark.parametrize("name, first, rest", [
    ("robustnet_resnet20_cifar10.cfg", 0.2, 0.1), ("robustnet_resnet20_cifar10_smoke.cfg", 0.2, 0.1),
    ("robustnet_adv_resnet20_cifar10.cfg", 0.1, 0.1), ("robustnet_adv_resnet20_cifar10_smoke.cfg", 0.1, 0.1),
])
def test_robustnet_sigma_per_noise_layer(name, first, rest):
    """Study sec. 3.7: RobustNet 0.2 at the input and 0.1 inside; RobustNet Adv. 0.1 in every noise layer."""
    model = build(parse(name))
    noise = layers_of(model, GaussianNoiseLayer)
    assert len(noise) == len(layers_of(model, keras.layers.Conv2D)) == 19  # one before every conv
    assert [layer.stddev for layer in noise] == [first] + [rest] * 18


def test_robustnet_adv_trains_adversarially_with_the_study_adversary():
    c = parse("robustnet_adv_resnet20_cifar10.cfg")
    assert c.adversarial and (c.eps, c.step_size, c.steps, c.random_start, c.attack_bn, c.adv_ratio) == (
        pytest.approx(8 / 255), 0.01, 7, True, "eval", 1.0)


def test_pni_and_pat_configs_use_their_papers_step_sizes():
    pni, pat = parse("pni_resnet20_cifar10.cfg"), parse("pat_resnet20_cifar10.cfg")
    assert (pni.step_size, pni.steps, pni.attack_bn) == (0.01, 7, "eval")  # PNI code pgd(k=7, a=0.01)
    assert (pat.step_size, pat.steps, pat.adv_ratio) == (pytest.approx(2 / 255), 10, 0.5)  # ANP: k=10, alpha=2


def test_anp_gaussian_baselines():
    """ANP: every hidden layer perturbed by N(0, 0.1) (13 convs of VGG-16), and N(0, 0.1) on training inputs."""
    hidden = parse("gaussian_hidden_vgg16_cifar10.cfg")
    model = build(hidden)
    noise = layers_of(model, GaussianNoiseLayer)
    assert hidden.model == "vgg16" and len(noise) == 13 and {n.stddev for n in noise} == {0.1}
    assert all(n.inference_noise for n in noise)
    inputs = parse("gaussian_input_vgg16_cifar10.cfg")
    assert inputs.train_input_noise == 0.1 and inputs.method == "vanilla"
    assert not zoo.randomness(build(inputs))["is_random"]  # training-only noise: the served model is plain


def test_paramnet_and_band_limited_configs():
    pn = parse("paramnet_vgg16_cifar10.cfg")
    model = build(pn)
    layers = layers_of(model, (ParamNoiseConv2D, ParamNoiseDense))
    assert len(layers) == 14 and {(l.sigma, l.train_noise) for l in layers} == {(0.25, True)}
    assert not [v for v in model.trainable_weights if "alpha" in v.path or "sigma" in v.path]
    bl = build(parse("bandlimited_resnet18_cifar10.cfg"))
    convs = layers_of(bl, keras.layers.Conv2D)
    ffts = layers_of(bl, FFTCompress)
    assert len(ffts) == len(convs) == 20 and {f.fraction for f in ffts} == {0.15}
