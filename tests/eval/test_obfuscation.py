"""The five gradient-obfuscation checks (Athalye et al. 2018; PNI Table 7) on hand-made result rows:
each check passes where the numbers are honest and fails where they show obfuscation."""
import numpy as np
import pytest

from eval.metrics import obfuscation

N = 100  # examples per row: the tolerance is 2 std + 1/N


class Model:
    name = "m"

    def __init__(self, predictions=None):
        self.predictions = predictions

    def predict(self, x, mode="served", batch_size=256):
        return self.predictions(x)


def _row(accuracy, std=0.0, eps=8 / 255):
    return dict(accuracy=accuracy, std=std, num_examples=N, params={"eps": eps})


def _checks(fgsm=0.5, pgd=0.4, spsa=0.6, unbounded=0.0, random_acc=0.8, curve=(0.9, 0.6, 0.4), std=0.0,
            curve_std=None):
    rows = {"fgsm": _row(fgsm, std), "pgd": _row(pgd, std), "unbounded": _row(unbounded, std, 1.0)}
    if spsa is not None:
        rows["spsa"] = _row(spsa, std)
    eps_curve = {"x": [0, 4, 8][:len(curve)], "y": list(curve), "std": curve_std}
    return {c["name"]: c for c in obfuscation.checks(Model(), rows, eps_curve, random_acc, 8 / 255)}


ONE_STEP = "one-step attack not stronger than iterative"
BLACK_BOX = "black-box attack not stronger than white-box"
UNBOUNDED = "unbounded attack reaches ~100% success"
RANDOM = "random sampling does not beat the gradient attack"
MONOTONE = "larger distortion bound never helps the defender"


def test_honest_numbers_pass_all_five():
    checks = _checks()
    assert set(checks) == {ONE_STEP, BLACK_BOX, UNBOUNDED, RANDOM, MONOTONE}
    assert all(c["passed"] for c in checks.values()), {n: c["numbers"] for n, c in checks.items() if not c["passed"]}
    assert checks[ONE_STEP]["numbers"] == {"fgsm_accuracy": 0.5, "pgd_accuracy": 0.4}


@pytest.mark.parametrize("name, numbers", [
    (ONE_STEP, dict(fgsm=0.2, pgd=0.4)),            # FGSM beats PGD by 0.2 > 1/N
    (BLACK_BOX, dict(spsa=0.2, pgd=0.4)),           # SPSA beats PGD
    (UNBOUNDED, dict(unbounded=0.3)),               # eps = 1 leaves 30 % correct
    (RANDOM, dict(random_acc=0.3, pgd=0.4)),        # random points find more errors than PGD
    (MONOTONE, dict(curve=(0.9, 0.4, 0.6))),        # accuracy rises with eps
])
def test_each_check_fails_exactly_where_its_numbers_show_obfuscation(name, numbers):
    checks = _checks(**numbers)
    assert not checks[name]["passed"], f"{name} passed on {checks[name]['numbers']}: expected a failure"
    assert all(c["passed"] for n, c in checks.items() if n != name), \
        {n: c["numbers"] for n, c in checks.items() if n != name and not c["passed"]}


@pytest.mark.parametrize("name, numbers", [
    (ONE_STEP, dict(fgsm=0.395, pgd=0.4)),                    # within 1/N = 0.01
    (ONE_STEP, dict(fgsm=0.35, pgd=0.4, std=0.03)),           # within 2 std + 1/N = 0.07
    (BLACK_BOX, dict(spsa=0.395, pgd=0.4)),
    (UNBOUNDED, dict(unbounded=0.055)),                       # <= 0.05 + 1/N
    (RANDOM, dict(random_acc=0.395, pgd=0.4)),
    (MONOTONE, dict(curve=(0.9, 0.4, 0.405))),                # a rise within 1/N
    (MONOTONE, dict(curve=(0.9, 0.4, 0.44), curve_std=[0.0, 0.02, 0.02])),  # within 2 std + 1/N = 0.05
])
def test_differences_within_the_trial_noise_pass(name, numbers):
    assert _checks(**numbers)[name]["passed"]


@pytest.mark.parametrize("name, numbers", [
    (ONE_STEP, dict(fgsm=0.38, pgd=0.4)),                     # just beyond 1/N
    (UNBOUNDED, dict(unbounded=0.07)),
    (MONOTONE, dict(curve=(0.9, 0.4, 0.45), curve_std=[0.0, 0.01, 0.01])),  # 0.05 > 2 * 0.01 + 0.01
])
def test_differences_beyond_the_tolerance_fail(name, numbers):
    assert not _checks(**numbers)[name]["passed"]


def test_without_spsa_the_black_box_check_is_absent():
    assert BLACK_BOX not in _checks(spsa=None) and len(_checks(spsa=None)) == 4


def test_random_sampling_counts_an_image_broken_if_any_sample_is():
    """Image i is broken exactly when some uniform sample moves its first pixel above 0.5 + 0.9 eps * s_i,
    for s = 0, 2, 2, ...: image 0 (s=0) breaks with probability 1 - 0.5^16, images s=2 never."""
    eps = 0.1
    x = np.full((5, 2, 2, 1), 0.5, np.float32)
    threshold = 0.5 + 0.9 * eps * np.array([0.0, 2.0, 2.0, 2.0, 2.0])
    y = np.zeros(5, int)
    model = Model(lambda z: (z[:, 0, 0, 0] > threshold[:len(z)]).astype(int))
    assert obfuscation.random_sampling(model, x, y, eps, samples=16, seed=0) == pytest.approx(4 / 5)
