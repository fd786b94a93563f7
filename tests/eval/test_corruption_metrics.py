"""CIFAR-10-P flip probability (noise sequences against the first frame, the others against the previous
one) and the CIFAR-10-C constants used outside the generators (no ImageNet-C constant on a CIFAR path)."""
import numpy as np
import pytest

import eval.corruptions as corruptions
from eval.corruptions import ANP_TABLE10, PERTURBATIONS, flip_reference
from eval.corruptions import noise as cifar_c_noise
from eval.metrics import corruption as cm
from eval.metrics import insensitivity


@pytest.mark.parametrize("labels,previous,first", [
    ([0, 1, 1, 1], 1 / 3, 3 / 3),   # one change, then stable: 1 flip of 3 vs 3 frames differing from frame 1
    ([0, 1, 0, 1], 3 / 3, 2 / 3),   # alternating: every step flips, frame 3 is back to frame 1
    ([2, 2, 2, 2], 0.0, 0.0),
])
def test_flip_probability_rules_differ_where_hendrycks_says(labels, previous, first):
    p = np.array([labels, labels])
    assert cm.flip_probability(p) == pytest.approx(previous)  # default: consecutive frames
    assert cm.flip_probability(p, reference="previous") == pytest.approx(previous)
    assert cm.flip_probability(p, reference="first") == pytest.approx(first)


def test_flip_probability_rejects_an_unknown_reference():
    with pytest.raises(ValueError, match="reference='last': expected one of previous, first"):
        cm.flip_probability(np.zeros((2, 3)), reference="last")


def test_noise_sequences_and_only_they_compare_with_the_first_frame():
    noise = {f"{base}{suffix}" for base in ("gaussian_noise", "shot_noise", "speckle_noise")
             for suffix in ("", "_2", "_3")}
    assert {name for name in PERTURBATIONS if flip_reference(name) == "first"} == noise
    assert [flip_reference(n) for n in ANP_TABLE10] == ["first"] * 3 + ["previous"] * 9


class _FrameModel:
    """Predicts label round(10 * mean pixel): the fake sequences below encode each frame's label."""

    name, is_random, is_differentiable = "frames", False, True

    def predict(self, x, mode="served", batch_size=256):
        return np.rint(10 * np.asarray(x).reshape(len(x), -1).mean(1)).astype(np.int64)


def test_perturbation_suite_picks_the_rule_by_name(monkeypatch, tmp_path):
    """Every fake sequence has labels [0, 1, 1, 1]: FP 1 for the three noise sequences, 1/3 for the rest."""
    from eval.report import Report
    from eval.suites import Context, EvalConfig, SUITES

    def sequence(images, name, seed=0, cache_dir=None):
        frames = np.array([0, 1, 1, 1], np.float32) / 10
        return np.broadcast_to(frames[None, :, None, None, None], (len(images), 4) + images.shape[1:]).copy()

    monkeypatch.setattr(corruptions, "perturbation_sequence", sequence)
    x = np.zeros((2, 4, 4, 3), np.float32)
    report = Report({})
    ctx = Context(EvalConfig(models=("frames",), sequence_examples=2, cache_dir=str(tmp_path)), [_FrameModel()], x,
                  np.zeros(2, np.int64), report, progress=lambda *_: None)
    SUITES["perturbation_seq"](ctx)
    matrix = next(m for m in report.to_dict()["matrices"] if m["name"] == "flip_probability")
    assert matrix["cols"] == list(ANP_TABLE10)
    assert matrix["values"][0] == pytest.approx([1.0] * 3 + [1 / 3] * 9)


def test_insensitivity_shot_noise_is_cifar10c_severity_1():
    """Poisson(c x) / c has variance x / c: on a constant 0.5 image, 0.5 / 500 = 1e-3 (CIFAR-10-C severity 1),
    not ImageNet-C's 0.5 / 60 = 8.3e-3."""
    assert cifar_c_noise.SHOT_NOISE[0] == 500
    x = np.full((4, 16, 16, 3), 0.5, np.float32)
    out = insensitivity.polluted("shot_noise", None, x, np.zeros(4, np.int64), 1.0, np.random.default_rng(0))
    variance = float(np.var(out - x))
    assert variance == pytest.approx(0.5 / 500, rel=0.1), f"variance {variance:.2e}: expected 1.0e-03 (c = 500)"


def test_corruption_suite_streams_one_set_at_a_time(monkeypatch, tmp_path):
    """The suite asks for one (corruption, severity) set at a time, converts it to float in slices, and no earlier
    set is alive while a model predicts (holding all 95 float32 sets took 11.7 GB for 10,000 images)."""
    import weakref  # reference counting frees an array when its last reference goes: no gc pass needed

    from eval.corruptions import BENCHMARK, EXTRA, SEVERITIES
    from eval.report import Report
    from eval.suites import Context, EvalConfig, SUITES

    alive, asked, peak = [], [], [0]

    def generate(images, names, severities, seed=0, cache_dir=None, progress=True):
        asked.append((tuple(names), tuple(severities)))
        label = len(asked) % 10  # every image of set k is classified as k mod 10 by _MeanModel
        arr = np.full(images.shape, label * 20 + 5, np.uint8)
        alive.append(weakref.ref(arr))
        return {(names[0], severities[0]): arr}

    class _MeanModel:
        name, is_random, is_differentiable = "mean", False, True

        def predict(self, x, mode="served", batch_size=256):
            assert x.dtype == np.float32 and len(x) <= 3  # converted in slices of cm.STREAM
            peak[0] = max(peak[0], sum(r() is not None for r in alive))
            return np.floor(np.asarray(x).reshape(len(x), -1).mean(1) * 255 / 20).astype(np.int64)

    monkeypatch.setattr(corruptions, "generate", generate)
    monkeypatch.setattr(cm, "STREAM", 3)
    x, y = np.zeros((7, 4, 4, 3), np.float32), np.zeros(7, np.int64)
    report = Report({})
    ctx = Context(EvalConfig(models=("mean",), cache_dir=str(tmp_path)), [_MeanModel()], x, y, report,
                  progress=lambda *_: None)
    ctx.result = lambda *a, **k: {"accuracy": 1.0}
    SUITES["corruption"](ctx)
    names = list(BENCHMARK) + list(EXTRA)
    assert asked == [((n,), (s,)) for n in names for s in SEVERITIES]
    assert peak[0] == 1
    matrix = next(m for m in report.to_dict()["matrices"] if m["name"] == "corruption_error")
    expected = [[0.0 if (k + 1) % 10 == 0 else 1.0 for k in range(i * 5, i * 5 + 5)] for i in range(len(names))]
    assert matrix["values"] == expected  # set k (1-based) is classified k mod 10; the labels are all 0
