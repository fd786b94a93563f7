"""The frozen configuration every trainer is built from (flagfile -> absl flags -> TrainConfig).

Library code never reads global flags: ``trainers.run`` turns parsed flags into a ``TrainConfig``,
``validate`` checks it before any work, and constructors take the config.
"""
import dataclasses
import os
import re

from zoo.errors import ZooError

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")  # as zoo.export: one directory name


@dataclasses.dataclass(frozen=True)
class AnpPhase:
    """One ANP training phase (ANP sec. "Experimental Setup"): ``epochs`` epochs with eta, eps, k."""

    eta: float
    eps: float
    k: int
    epochs: int


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    method: str = "vanilla"
    # model
    model: str = "resnet20"
    width: float = 1.0
    pni: str = None
    pni_granularity: str = "layerwise"
    pni_alpha_init: float = 0.25
    robustnet: bool = False
    sigma_init: float = 0.2
    sigma_inner: float = 0.1
    anp_layers: int = 0
    channel: str = None
    paramnet: float = 0.0
    paramnet_train_noise: bool = True
    fft_layers: str = None
    fft_fraction: float = 0.5
    hidden_noise: float = 0.0
    # data
    dataset: str = "digits"
    data_dir: str = None
    train_split: str = "train"
    eval_split: str = "test"
    num_train_examples: int = None
    num_eval_examples: int = None
    augment: bool = True
    preprocess: str = None  # "cifar" | "imagenet"; None: the dataset's (zoo.data.info(...).preprocess)
    image_size: int = None  # "imagenet" geometry: output side (None: 224)
    batch_size: int = 128
    # optimisation (PyTorch-style SGD: momentum, optional Nesterov, coupled L2 weight decay)
    epochs: int = 160
    lr: float = 0.1
    lr_boundaries: tuple = (80, 120)
    lr_decay: float = 0.1
    lr_schedule: str = "step"  # "step" (lr_boundaries x lr_decay) | "cosine" (linear warm-up, cosine to 0)
    warmup_epochs: int = 0
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    # adversary used in training: PGD-7, eps 8/255, step 0.01 = 2.55/255, random start (Study sec. 3.7;
    # the official PNI code's pgd(k=7, a=0.01)), crafted with batch norm in inference mode (model.eval())
    eps: float = 8 / 255
    step_size: float = 0.01
    steps: int = 7
    random_start: bool = True
    attack_bn: str = "eval"
    adv_ratio: float = 1.0
    adv_start_epoch: int = 0
    adversarial: bool = False
    # PNI (eq. 11)
    w_clean: float = 0.5
    w_adv: float = 0.5
    pni_attack_noise: bool = True
    # ANP (Algorithm 1 and the three-phase schedule)
    anp_clean_epochs: int = 40
    anp_phases: tuple = (AnpPhase(1.0, 1.0, 3, 50), AnpPhase(0.3, 0.3, 5, 50))
    # baselines
    train_input_noise: float = 0.0
    nat_eps_std: float = 8 / 255
    eat_holdout: tuple = ()
    lat_eps: float = 0.1
    # running
    seed: int = 0
    jit_compile: object = "auto"  # "auto" (time both ways, keep the faster: trainers/jit.py), True or False
    mixed_precision: bool = False
    strategy: str = "default"
    export_dir: str = "exported_models"
    export_name: str = None
    run_dir: str = "runs"
    log_every_epoch: bool = True

    @property
    def name(self):
        return self.export_name or f"{self.method}_{self.model}"

    def as_dict(self):
        return dataclasses.asdict(self)


STRATEGIES = ("default", "mirrored", "multi_worker")
LR_SCHEDULES = ("step", "cosine")
ATTACK_BN = ("eval", "train")
INPUT_NOISE_METHODS = ("paramnet", "vanilla")


def _require(ok, flag, value, expected):
    if not ok:
        raise ZooError(f"--{flag}={value}: expected {expected}")


def validate(config, known_models, known_methods):
    """Check every flag before any work; raise ZooError naming the first bad one."""
    c = config
    from trainers.jit import parse_mode
    parse_mode(c.jit_compile)  # ZooError: --jit_compile=<value>: expected one of auto, on, off
    _require(c.method in known_methods, "method", c.method, "one of " + ", ".join(sorted(known_methods)))
    _require(c.model in known_models, "model", c.model, "one of " + ", ".join(sorted(known_models)))
    _require(c.width > 0, "width", c.width, "a multiplier > 0")
    _require(c.batch_size >= 1, "batch_size", c.batch_size, "an integer >= 1")
    _require(c.epochs >= 1, "epochs", c.epochs, "an integer >= 1")
    _require(c.lr > 0, "lr", c.lr, "a learning rate > 0")
    _require(c.weight_decay >= 0, "weight_decay", c.weight_decay, "a value >= 0")
    _require(0 <= c.momentum < 1, "momentum", c.momentum, "a value in [0, 1)")
    _require(c.lr_decay > 0, "lr_decay", c.lr_decay, "a multiplier > 0 (0.1: the lr falls tenfold at each boundary)")
    _require(list(c.lr_boundaries) == sorted(c.lr_boundaries) and all(b > 0 for b in c.lr_boundaries),
             "lr_boundaries", ",".join(map(str, c.lr_boundaries)), "increasing positive epochs")
    _require(c.lr_schedule in LR_SCHEDULES, "lr_schedule", c.lr_schedule, "one of " + ", ".join(LR_SCHEDULES))
    _require(0 <= c.warmup_epochs < c.epochs, "warmup_epochs", c.warmup_epochs,
             f"an integer in [0, epochs) = [0, {c.epochs})")
    _require(0 <= c.eps <= 1, "eps", c.eps, "a value in [0, 1] (pixel scale, e.g. 0.031 for 8/255)")
    _require(0 < c.step_size <= 1, "step_size", c.step_size, "a value in (0, 1] (pixel scale)")
    _require(c.steps >= 1, "steps", c.steps, "an integer >= 1 (PGD-k needs k >= 1)")
    _require(0 <= c.adv_ratio <= 1, "adv_ratio", c.adv_ratio, "a fraction in [0, 1]")
    _require(c.adv_start_epoch >= 0, "adv_start_epoch", c.adv_start_epoch, "an integer >= 0")
    _require(c.w_clean >= 0 and c.w_adv >= 0 and c.w_clean + c.w_adv > 0, "w_clean/--w_adv",
             f"{c.w_clean}/{c.w_adv}", "non-negative weights, not both 0")
    _require(c.strategy in STRATEGIES, "strategy", c.strategy, "one of " + ", ".join(STRATEGIES))
    _require(c.sigma_init >= 0 and c.sigma_inner >= 0, "sigma_init/--sigma_inner",
             f"{c.sigma_init}/{c.sigma_inner}", "values >= 0")
    _require(c.attack_bn in ATTACK_BN, "attack_bn", c.attack_bn, "one of " + ", ".join(ATTACK_BN))
    _require(c.paramnet >= 0, "paramnet", c.paramnet, "a noise scale >= 0 (std of the weight noise / std(w))")
    _require(not (c.paramnet and c.pni), "paramnet", c.paramnet,
             f"0 with --pni={c.pni} (one weight-noise variant: ParamNet or PNI, not both)")
    _require(0 < c.fft_fraction <= 1, "fft_fraction", c.fft_fraction, "the kept fraction of the spectrum in (0, 1]")
    _require(c.hidden_noise >= 0, "hidden_noise", c.hidden_noise, "a standard deviation >= 0")
    from zoo.models.builder import parse_fft_layers
    try:
        parse_fft_layers(c.fft_layers)
    except ZooError:
        _require(False, "fft_layers", c.fft_layers, "input, all, or comma-separated conv indices (0 = first conv)")
    _require(c.train_input_noise >= 0, "train_input_noise", c.train_input_noise, "a standard deviation >= 0")
    _require(not c.train_input_noise or c.method in INPUT_NOISE_METHODS, "train_input_noise", c.train_input_noise,
             f"0 for method {c.method} (training-input noise is a clean-training augmentation: "
             f"{', '.join(INPUT_NOISE_METHODS)})")
    _require(c.nat_eps_std > 0, "nat_eps_std", c.nat_eps_std, "a value > 0")
    _require(c.lat_eps >= 0, "lat_eps", c.lat_eps, "a value >= 0")
    if c.method == "anp":
        _require(c.anp_layers >= 1, "anp_layers", c.anp_layers, "an integer >= 1 (the top-m layers with registers)")
        for i, p in enumerate(c.anp_phases):
            _require(p.k >= 1, f"anp_k (phase {i + 1})", p.k, "an integer >= 1")
            _require(p.eps >= 0, f"anp_eps (phase {i + 1})", p.eps, "a value >= 0")
            _require(0 <= p.eta <= 1, f"anp_eta (phase {i + 1})", p.eta, "a value in [0, 1]")
            _require(p.epochs >= 1, f"anp_phase_epochs (phase {i + 1})", p.epochs, "an integer >= 1")
        scheduled = c.anp_clean_epochs + sum(p.epochs for p in c.anp_phases)
        _require(c.epochs >= scheduled, "epochs", c.epochs,
                 f">= {scheduled}, the clean epochs plus the ANP phases ({c.anp_clean_epochs} + "
                 f"{' + '.join(str(p.epochs) for p in c.anp_phases)})")
    if c.method == "eat":
        _require(len(c.eat_holdout) >= 1, "eat_holdout", "", "at least one SavedModel directory")
    _require(c.export_name is None or bool(_NAME.match(c.export_name)), "export_name", c.export_name,
             "letters, digits, '_', '-' or '.' only (one directory under --export_dir)")
    _require(bool(c.export_dir) and bool(c.run_dir), "export_dir/--run_dir", f"{c.export_dir!r}/{c.run_dir!r}",
             "non-empty directory paths")
    if c.num_eval_examples is not None:
        _require(c.num_eval_examples >= 1, "num_eval_examples", c.num_eval_examples, "an integer >= 1")
    if c.num_train_examples is not None:
        _require(c.num_train_examples >= 1, "num_train_examples", c.num_train_examples, "an integer >= 1")
    return config


def check_paths(config):
    """What must exist on disk before the run starts (``validate`` checks values only, so a config can be
    validated before its inputs exist): the EAT hold-out SavedModels."""
    for i, path in enumerate(config.eat_holdout):
        _require(os.path.isfile(os.path.join(path, "saved_model.pb")), f"eat_holdout (entry {i + 1})", path,
                 "a SavedModel directory (exported_models/<name>/<version>, with saved_model.pb)")
