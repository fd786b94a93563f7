"""The frozen configuration every trainer is built from (flagfile -> absl flags -> TrainConfig).

Library code never reads global flags: ``trainers.cli`` turns parsed flags into a ``TrainConfig``
(``TrainConfig.from_flat``: the model's flags become its ``zoo.models.Variant``), ``validate`` checks it
before any work, and constructors take the config. The flags are made from the fields (``metadata["help"]``).
"""
import dataclasses
import os
import re

from zoo.errors import ZooError, choice_error
from zoo.models.builder import Variant, parse_fft_layers
from zoo.threat import LINF_TRAIN

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")  # as zoo.export: one directory name


@dataclasses.dataclass(frozen=True)
class AnpPhase:
    """One ANP training phase (ANP sec. "Experimental Setup"): ``epochs`` epochs with eta, eps, k."""

    eta: float
    eps: float
    k: int
    epochs: int


STRATEGIES = ("default", "mirrored", "multi_worker")
LR_SCHEDULES = ("step", "cosine")
ATTACK_BN = ("eval", "train")
INPUT_NOISE_METHODS = ("paramnet", "vanilla")
VARIANT_FIELDS = tuple(f.name for f in dataclasses.fields(Variant) if f.name not in ("mean", "std"))  # the dataset's


def _field(default, help, **metadata):
    """A field with its flag's help (and closed ``choices``; ``pixels=True``: a pixel-scale value that also reads
    fractions, ``--eps=8/255``) in ``metadata``: ``trainers.cli.define_flags`` makes one flag per field that has a
    help, typed by its default."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What a trainer is built from: the model ``variant`` (``zoo.models.Variant``) and the training flags.

    ``TrainConfig.from_flat(width=2, pni="W", lr=0.1, ...)`` takes the flags' flat names; ``as_dict()`` gives
    them back flat (the exported metadata's "training" dict).

    One field per flag, each ``_field(default, help)``: runs of them look alike by shape, and are declarations.
    """

    method: str = "vanilla"
    model: str = _field("resnet20", "zoo model name (see zoo.list_models())")
    variant: Variant = dataclasses.field(default_factory=Variant)  # the flags width, pni, ...: VARIANT_FIELDS
    # data
    dataset: str = _field("digits", "digits | cifar10 | svhn_cropped | mnist | imagenet2012 | imagenette | a TFDS "
                                    "prepared-dataset directory")
    data_dir: str = _field(None, "TFDS data_dir for named datasets")
    train_split: str = _field("train", "training split (TFDS slicing allowed, e.g. train[:500])")
    eval_split: str = _field("test", "evaluation split")
    num_train_examples: int = _field(None, "use only the first N training examples")
    num_eval_examples: int = _field(None, "use only the first N evaluation examples")
    augment: bool = _field(True, "training augmentation: cifar = pad 4 + random crop + flip; imagenet = "
                                 "random-resized crop + flip")
    # "cifar" | "imagenet"; None: the dataset's (zoo.data.info(...).preprocess)
    preprocess: str = _field(None, "cifar | imagenet (train: random-resized crop; eval: resize 256, centre "
                                   "crop 224); default: imagenet for datasets of varied image sizes")
    image_size: int = _field(None, "imagenet geometry: output side (default 224)")
    batch_size: int = _field(128, "global batch size")
    # optimisation (PyTorch-style SGD: momentum, optional Nesterov, coupled L2 weight decay)
    epochs: int = _field(160, "number of epochs")
    lr: float = _field(0.1, "initial learning rate")
    lr_boundaries: tuple = _field((80, 120), "epochs at which the lr is multiplied by lr_decay")
    lr_decay: float = _field(0.1, "lr multiplier at each boundary")
    lr_schedule: str = _field("step", "step (x lr_decay at each of lr_boundaries: the papers') | cosine (linear "
                              "warm-up over --warmup_epochs, then cosine to 0 at the last epoch: for short budgets)",
                              choices=LR_SCHEDULES)
    warmup_epochs: int = _field(0, "epochs of linear lr warm-up (step and cosine schedules)")
    momentum: float = _field(0.9, "SGD momentum")
    nesterov: bool = _field(False, "Nesterov momentum (the PNI code uses it)")
    weight_decay: float = _field(5e-4, "coupled L2 weight decay, never applied to PNI alphas")
    # adversary used in training (zoo.threat.LINF_TRAIN): PGD-7, eps 8/255, step 0.01 = 2.55/255, random start
    # (Study sec. 3.7; the official PNI code's pgd(k=7, a=0.01)), crafted with batch norm in inference mode
    eps: float = _field(LINF_TRAIN.eps, "L-inf budget of the training adversary, pixel scale (8/255 = 0.0314)",
                        pixels=True)
    step_size: float = _field(LINF_TRAIN.step_size, "PGD step size (0.01 = 2.55/255, Study sec. 3.7 and the PNI "
                              "code; ANP: 2/255)", pixels=True)
    steps: int = _field(LINF_TRAIN.steps, "PGD steps k")
    random_start: bool = _field(True, "PGD random start")
    attack_bn: str = _field("eval", "batch norm while crafting training adversaries: eval (moving statistics, as "
                            "the PNI code's model.eval()) | train (batch statistics, moving statistics left untouched)",
                            choices=ATTACK_BN)
    adv_ratio: float = _field(1.0, "pgd/robustnet: weight r of L(x_adv) in (1-r)L(x) + rL(x_adv)")
    adv_start_epoch: int = _field(0, "clean epochs before adversarial training starts")
    adversarial: bool = _field(False, "robustnet: add PGD adversarial training (RobustNet Adv.)")
    # PNI (eq. 11)
    w_clean: float = _field(0.5, "PNI eq. 11 weight of the clean loss")
    w_adv: float = _field(0.5, "PNI eq. 11 weight of the adversarial loss")
    pni_attack_noise: bool = _field(True, "PNI: keep the noise on while crafting x_adv (eq. 12)")
    # ANP (Algorithm 1 and the three-phase schedule; the flags --anp_eta/--anp_eps/--anp_k/--anp_phase_epochs)
    anp_clean_epochs: int = _field(40, "ANP: clean epochs before the noise phases")
    anp_phases: tuple = (AnpPhase(1.0, 1.0, 3, 50), AnpPhase(0.3, 0.3, 5, 50))
    # baselines
    train_input_noise: float = _field(0.0, "vanilla/paramnet: std of Gaussian noise added to training "
                                      "images (pixel scale, training only; ANP's input-noise baseline)", pixels=True)
    nat_eps_std: float = _field(LINF_TRAIN.eps, "NAT: std of the per-example eps (truncated at 2 std)", pixels=True)
    eat_holdout: tuple = _field((), "EAT: SavedModel directories of static hold-out models")
    lat_eps: float = _field(0.1, "LAT: hidden-layer noise magnitude")
    # running
    seed: int = _field(0, "random seed")
    # "auto" (time both ways, keep the faster: trainers/jit.py), True or False
    jit_compile: object = _field("auto", "XLA for the train step: auto (time a few steps each way on this CPU, keep "
                                 "the faster; cached per CPU), on or off")
    mixed_precision: bool = _field(False, "mixed_float16 compute (for GPUs)")
    strategy: str = _field("default", "tf.distribute strategy: " + " | ".join(STRATEGIES), choices=STRATEGIES)
    export_dir: str = _field("exported_models", "where SavedModels are written (<export_dir>/<name>/<version>)")
    export_name: str = _field(None, "model name under export_dir (default <method>_<model>)")
    run_dir: str = _field("runs", "checkpoints, TensorBoard logs and history live in <run_dir>/<name>")
    log_every_epoch: bool = True

    @classmethod
    def from_flat(cls, **kw):
        """A TrainConfig from the flags' flat names: the Variant fields (``width``, ``pni``, ...) go into
        ``variant`` (over ``variant=`` if given), checked first with the flags' one-line errors (``--width=0:
        expected ...``); an unknown name is a one-line ZooError listing the fields."""
        known = flat_fields() + ["variant"]
        unknown = [k for k in kw if k not in known]
        if unknown:
            raise choice_error("TrainConfig field", unknown[0], known)
        base = kw.pop("variant", None) or Variant()
        variant = {f.name: getattr(base, f.name) for f in dataclasses.fields(Variant)}
        variant.update({k: kw.pop(k) for k in VARIANT_FIELDS if k in kw})
        _check_variant(variant)
        return cls(variant=Variant(**variant), **kw)

    @property
    def name(self):
        return self.export_name or f"{self.method}_{self.model}"

    def as_dict(self):
        """Flat, as the flags name the fields (the Variant fields where ``variant`` is): exports' metadata."""
        out = {}
        for key, value in dataclasses.asdict(self).items():
            out.update({k: value[k] for k in VARIANT_FIELDS} if key == "variant" else {key: value})
        return out


def flat_fields():
    """TrainConfig's field names as the flags and ``as_dict`` name them (the Variant fields in place of ``variant``)."""
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    i = names.index("variant")
    return names[:i] + list(VARIANT_FIELDS) + names[i + 1:]


def _require(ok, flag, value, expected):
    if not ok:
        raise ZooError(f"--{flag}={value}: expected {expected}")


def _check_variant(v):
    """The Variant flags (a dict with every Variant field), with the flags' one-line errors: ``from_flat``
    checks them before ``Variant`` itself does, whose errors name keywords of ``zoo.create``, not flags."""
    _require(v["width"] > 0, "width", v["width"], "a multiplier > 0")
    _require(v["sigma_init"] >= 0 and v["sigma_inner"] >= 0, "sigma_init/--sigma_inner",
             f"{v['sigma_init']}/{v['sigma_inner']}", "values >= 0")
    _require(v["paramnet"] >= 0, "paramnet", v["paramnet"], "a noise scale >= 0 (std of the weight noise / std(w))")
    _require(not (v["paramnet"] and v["pni"]), "paramnet", v["paramnet"],
             f"0 with --pni={v['pni']} (one weight-noise variant: ParamNet or PNI, not both)")
    _require(0 < v["fft_fraction"] <= 1, "fft_fraction", v["fft_fraction"],
             "the kept fraction of the spectrum in (0, 1]")
    _require(v["hidden_noise"] >= 0, "hidden_noise", v["hidden_noise"], "a standard deviation >= 0")
    try:
        parse_fft_layers(v["fft_layers"])
    except ZooError:
        _require(False, "fft_layers", v["fft_layers"], "input, all, or comma-separated conv indices (0 = first conv)")


def validate(config, known_models, known_methods):
    """Check every flag before any work; raise ZooError naming the first bad one (the Variant fields were
    checked when the config was made: ``TrainConfig.from_flat``, ``zoo.models.Variant``)."""
    c = config
    from trainers.jit import parse_mode
    parse_mode(c.jit_compile)  # ZooError: --jit_compile=<value>: expected one of auto, on, off
    _require(c.method in known_methods, "method", c.method, "one of " + ", ".join(sorted(known_methods)))
    _require(c.model in known_models, "model", c.model, "one of " + ", ".join(sorted(known_models)))
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
    _require(c.attack_bn in ATTACK_BN, "attack_bn", c.attack_bn, "one of " + ", ".join(ATTACK_BN))
    _require(c.train_input_noise >= 0, "train_input_noise", c.train_input_noise, "a standard deviation >= 0")
    _require(not c.train_input_noise or c.method in INPUT_NOISE_METHODS, "train_input_noise", c.train_input_noise,
             f"0 for method {c.method} (training-input noise is a clean-training augmentation: "
             f"{', '.join(INPUT_NOISE_METHODS)})")
    _require(c.nat_eps_std > 0, "nat_eps_std", c.nat_eps_std, "a value > 0")
    _require(c.lat_eps >= 0, "lat_eps", c.lat_eps, "a value >= 0")
    if c.method == "anp":
        _require(c.variant.anp_layers >= 1, "anp_layers", c.variant.anp_layers,
                 "an integer >= 1 (the top-m layers with registers)")
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
