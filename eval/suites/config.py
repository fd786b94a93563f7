"""``EvalConfig``, the settings of ``python -m eval``, and the defaults the suites share."""
import dataclasses
import os

from eval.attacks.eot import EOT_MODES
from eval.metrics.robustness import AUTOATTACK_NORMS, AUTOATTACK_VERSIONS, protocol_settings
from zoo.errors import ZooError, choice_error
from zoo.threat import EPS_SWEEP, INSENSITIVITY_EPS, L2, LINF

NOISE = ("on", "off", "both")

EPS = LINF.eps
BOUNDARY_SEARCH_LIMIT = 64.0  # L2 distance ([0,1] pixels) up to which boundary rays are searched
STEP = LINF.step_size


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    models: tuple
    dataset: str = "cifar10"
    data_dir: str = None
    split: str = "test"
    num_examples: int = 500
    suites: tuple = ("whitebox",)
    report_dir: str = "reports/latest"
    trials: int = None          # None: 5 for random models, 1 otherwise
    eot: int = None             # None: 8 for random models, 1 otherwise
    random_only: bool = False   # trials / eot apply to random models only (noise-off views get 1 and 1)
    eot_mode: str = "gradient"  # gradient: mean of per-draw loss gradients (Athalye et al.); logits: of averaged logits
    protocol: str = "default"   # pni: eot 1 and 5 trials for every model (PNI sec. 4.1's tables)
    noise: str = "on"           # on | off | both: whitebox/blackbox/transfer/obfuscation as served, noise off, or both
    bpda: bool = None           # None: BPDA exactly for models with non-differentiable parts
    seed: int = 0
    batch_size: int = 128
    eps: float = EPS
    step_size: float = STEP
    steps: tuple = (7, 20)
    eps_list: tuple = EPS_SWEEP
    steps_list: tuple = (1, 7, 20, 40, 100)
    attacks: tuple = ("fgsm", "pgd", "bim", "mifgsm", "step_ll", "pgd_l2", "cw_l2")
    majority_vote: bool = False
    votes: int = 9
    cw_iterations: int = 10
    channel_attack: str = "cw_l2"     # channels transfer matrix: Study Table 1's adaptive C&W L2, or pgd
    channel_examples: int = None      # images of the channels suite (None: all; Study Table 1: 2000)
    cache_dir: str = os.path.join(os.path.expanduser("~"), ".cache", "robustness-zoo")
    baseline_model: str = None      # a --model name (or a model of --baseline_report) used as the CE/FR base
    baseline_report: str = None     # report.json of an earlier run holding the baseline's errors
    sequence_examples: int = 100
    boundary_examples: int = 50
    directions: int = 32
    insensitivity_eps: tuple = INSENSITIVITY_EPS
    saliency_examples: int = 8
    insensitivity_examples: int = 100
    analysis_examples: int = 64         # M1 / M2 histograms
    gradient_norm_examples: int = 16    # gradient norms under Gaussian noise (Study Fig. 12-14)
    autoattack_version: str = "auto"    # auto: standard for deterministic models, rand for random ones
    autoattack_norm: str = "linf"       # linf (at eps) | l2 (at eps_l2)
    eps_l2: float = L2.eps              # L2 budget of whitebox's pgd_l2 and autoattack's l2 norm (RobustBench: 0.5)
    apgd_iterations: int = 100          # APGD iterations per run (Croce & Hein 2020: 100)
    square_queries: int = 5000          # Square Attack queries per example (AutoAttack: 5,000)

    def model_settings(self, model):
        """(eot, trials) for ``model``: the config's, or None and None (eval's automatic 1 and 1) for a
        deterministic model or noise-off view when ``random_only`` is set (the leaderboard's protocol: repeating
        a deterministic attack graph with EOT, or trials beyond one, multiplies its cost for the same row)."""
        if self.random_only and not model.is_random:
            return None, None
        return self.eot, self.trials

    def __post_init__(self):
        if self.eot_mode not in EOT_MODES:
            raise choice_error("eot_mode", self.eot_mode, EOT_MODES)
        if self.noise not in NOISE:
            raise choice_error("noise", self.noise, NOISE)
        eot, trials = protocol_settings(self.protocol, self.eot, self.trials)
        object.__setattr__(self, "eot", eot)
        object.__setattr__(self, "trials", trials)
        if self.autoattack_version not in AUTOATTACK_VERSIONS:
            raise choice_error("autoattack_version", self.autoattack_version, AUTOATTACK_VERSIONS)
        if self.autoattack_norm not in AUTOATTACK_NORMS:
            raise choice_error("autoattack_norm", self.autoattack_norm, AUTOATTACK_NORMS)
        for name in ("apgd_iterations", "square_queries"):
            if getattr(self, name) < 1:
                raise ZooError(f"--{name}={getattr(self, name)}: expected an integer >= 1")
        if self.votes < 1:
            raise ZooError(f"--votes={self.votes}: expected a number of passes >= 1")
        for name in ("insensitivity_examples", "analysis_examples", "gradient_norm_examples"):
            if getattr(self, name) < 1:
                raise ZooError(f"--{name}={getattr(self, name)}: expected an integer >= 1")
