"""The threat model: one place for the budgets, steps and norms of trainers and eval, and their unit.

Unit: every budget and step (``--eps``, ``--step_size``, ``--eps_list``, ``--nat_eps_std``, attack
parameters) is in pixel scale, i.e. a distance between images in [0, 1]. A flag value may be written
as a number (``0.0314``) or as a fraction (``8/255``); ``parse_pixels`` reads both.

Vocabulary: an iterative attack is ``eps`` (budget), ``step_size`` (step), ``steps`` (iterations) and
``random_start`` in the trainers, the attack registry, the suites and the reports alike. Only
``eval.attacks.cleverhans_attacks`` speaks CleverHans' names (eps_iter, nb_iter, rand_init), when it
calls CleverHans.

| threat model | norm | eps | step | steps | source |
|---|---|---|---|---|---|
| ``LINF`` (evaluation) | L-inf | 8/255 | 2/255 | 20 | PNI sec. 4.1 (PGD-7/20, step 2/255); RobustBench CIFAR-10 L-inf |
| ``LINF_TRAIN`` (training adversary) | L-inf | 8/255 | 0.01 | 7 | official PNI code ``pgd(k=7, a=0.01)``; Study sec. 3.7 |
| ``L2`` (evaluation) | L2 | 0.5 | 0.1 | 20 | Madry et al. 2018; RobustBench CIFAR-10 L2 |
"""
import dataclasses
import numbers

from zoo.errors import ZooError

NORMS = ("linf", "l2")


@dataclasses.dataclass(frozen=True)
class ThreatModel:
    """A norm ball of radius ``eps`` in pixel scale and the PGD that searches it (``steps`` of ``step_size``)."""

    norm: str
    eps: float
    step_size: float
    steps: int
    source: str = ""

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"norm={self.norm!r}: expected one of {', '.join(NORMS)}")

    def step_for(self, eps):
        """The step of a PGD at budget ``eps``: ``step_size``, or ``eps`` itself when the budget is smaller
        (an eps sweep's small budgets; a step larger than the ball would only bounce on its surface)."""
        return min(self.step_size, eps)

    def pgd(self, steps=None, eps=None, step_size=None):
        """Parameters of a PGD run in the project's vocabulary: ``{"eps", "step_size", "steps"}``.

        Unset values come from the threat model; the step follows ``step_for`` unless given."""
        eps = self.eps if eps is None else float(eps)
        step = (self if step_size is None else dataclasses.replace(self, step_size=float(step_size))).step_for(eps)
        return {"eps": eps, "step_size": step, "steps": int(self.steps if steps is None else steps)}

    def describe(self):
        """'L-inf eps 8/255' / 'L2 eps 0.5'."""
        return f"{'L-inf' if self.norm == 'linf' else 'L2'} eps {format_pixels(self.eps, self.norm)}"


LINF = ThreatModel("linf", 8 / 255, 2 / 255, 20, "PNI sec. 4.1; RobustBench CIFAR-10 L-inf")
LINF_TRAIN = ThreatModel("linf", 8 / 255, 0.01, 7, "official PNI code pgd(k=7, a=0.01); Study sec. 3.7")
L2 = ThreatModel("l2", 0.5, 0.1, 20, "Madry et al. 2018; RobustBench CIFAR-10 L2")
# the accuracy-vs-eps curve (PNI Fig. 3's range) and the insensitivity sweep (ANP Fig. 4)
EPS_SWEEP = tuple(k / 255 for k in (0, 2, 4, 8, 12, 16))
INSENSITIVITY_EPS = tuple(k / 255 for k in (1, 2, 4, 8, 16))


def format_pixels(value, norm="linf"):
    """'8/255' for an L-inf value that is a whole number of grey levels, else '0.5' (4 significant digits)."""
    levels = value * 255
    if norm == "linf" and abs(levels - round(levels)) < 1e-6:
        return "0" if round(levels) == 0 else f"{round(levels)}/255"
    return f"{value:.4g}"


def parse_pixels(flag, text, low=0.0, high=1.0, positive=False):
    """A pixel-scale value from a flag: ``0.0314`` or ``8/255``; one-line ZooError naming the flag otherwise.

    ``positive``: the value must also be > 0 (a step size), i.e. in (low, high]."""
    if isinstance(text, numbers.Real) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = str(text).strip()
        try:
            if "/" in raw:
                num, den = raw.split("/", 1)
                value = float(num) / float(den)
            else:
                value = float(raw)
        except (ValueError, ZeroDivisionError):
            raise ZooError(f"--{flag}={text}: expected a pixel-scale number such as 0.0314 or a fraction such as "
                           "8/255") from None
    if positive and value <= 0:
        raise ZooError(f"--{flag}={text}: expected a value in (0, {high:g}] (pixel scale, e.g. 2/255 = 0.0078)")
    if not low <= value <= high:
        whole = value > 1 and value == int(value) and int(value) <= 255
        hint = f" (pixel scale: write {int(value)}/255 for {int(value)} grey levels)" if whole \
            else " (pixel scale)"
        raise ZooError(f"--{flag}={text}: expected a value in [{low:g}, {high:g}]{hint}")
    return value


def pixel_list(flag, items):
    """``--eps_list``-style list flag -> tuple of pixel-scale floats (each item a number or a fraction)."""
    return tuple(parse_pixels(flag, item) for item in items)
