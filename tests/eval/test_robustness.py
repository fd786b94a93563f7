"""eval.metrics.robustness: the majority-vote defense and --votes on a scripted random model whose
per-pass labels are known, the protocols, and row fields."""
import numpy as np
import pytest

from eval.metrics.robustness import evaluate, predict, protocol_settings
from eval.suites import EvalConfig
from zoo.errors import ZooError

CLASSES = 4


class Scripted:
    """A 'random model' whose pass k labels example i as ``labels[k % len(labels)][i]``.

    Example i is recognised by its first pixel (i / 100), so batching cannot mix labels up; ``calls``
    counts the passes over a batch.
    """

    name = "scripted"
    is_random = True
    is_differentiable = True
    noise = "on"

    def __init__(self, labels):
        self.labels = np.asarray(labels)
        self.calls = 0

    def attack_mode(self, bpda=None):
        return "served"

    def model_fn(self, mode="served", eot=1, eot_mode="gradient"):
        def fn(x):
            ids = np.rint(np.asarray(x)[:, 0, 0, 0] * 100).astype(int)
            labels = self.labels[self.calls % len(self.labels)][ids]
            self.calls += 1
            return np.eye(CLASSES, dtype=np.float32)[labels]
        return fn

    def predict(self, x, mode="served", batch_size=256):
        return np.argmax(self.model_fn(mode)(x), axis=1)


def _images(n):
    x = np.zeros((n, 2, 2, 1), np.float32)
    x[:, 0, 0, 0] = np.arange(n) / 100
    return x


def _mode(column):
    counts = np.bincount(column, minlength=CLASSES)
    return int(np.argmax(counts))  # first maximum: the smallest tied label, as majority_vote


def test_majority_vote_defense_is_the_per_example_mode_of_the_passes():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, size=(7, 40))
    model = Scripted(labels)
    votes = predict(model, _images(40), defense="majority_vote", votes=7, batch_size=16)
    expected = [_mode(labels[:, i]) for i in range(40)]
    assert votes.tolist() == expected
    assert model.calls == 7 * 3  # 7 passes over each of the 3 batches (16 + 16 + 8)
    single = predict(Scripted(labels), _images(40))
    assert single.tolist() == labels[0].tolist()  # without the defense: one pass


def test_votes_sets_the_number_of_passes_and_changes_the_vote():
    # passes 1-3 say class 2, passes 4-7 say class 1: 3 votes give 2, 7 votes give 1
    labels = np.array([[2] * 5] * 3 + [[1] * 5] * 4)
    x, y = _images(5), np.full(5, 1)
    for votes, vote, accuracy in ((3, 2, 0.0), (7, 1, 1.0)):
        model = Scripted(labels)
        row = evaluate(model, x, y, "clean", defense="majority_vote", votes=votes, trials=1)
        assert model.calls == votes, f"votes={votes}: {model.calls} passes, expected {votes}"
        assert row["accuracy"] == accuracy and row["votes"] == votes and row["defense"] == "majority_vote"
        model = Scripted(labels)
        evaluate(model, x, y, "clean", defense="majority_vote", votes=votes, trials=2)
        assert model.calls == 2 * votes, f"votes={votes}: {model.calls} passes, expected {2 * votes} (2 trials)"
        np.testing.assert_array_equal(predict(Scripted(labels), x, "majority_vote", votes=votes), vote)


def test_the_config_votes_reach_the_suite(monkeypatch):
    from eval import suites
    seen = []
    monkeypatch.setattr(suites.context, "evaluate", lambda *a, **kw: seen.append(kw["votes"]) or
                        dict(model="m", attack="clean", accuracy=1.0, std=0.0, trials=1, eot=1, bpda=False,
                             seed=0, seconds=0.0, num_examples=1))

    class Quiet:
        def add_result(self, **row):
            pass

    config = EvalConfig(models=("m",), votes=5)
    ctx = suites.Context(config, [Scripted([[0]])], _images(1), np.zeros(1, int), Quiet(), progress=lambda t: None)
    ctx.result(ctx.models[0], "clean", defense="majority_vote")
    assert seen == [5]
    with pytest.raises(ZooError, match="--votes=0"):
        EvalConfig(models=("m",), votes=0)


def test_pni_protocol_is_one_draw_and_five_trials():
    assert protocol_settings("default") == (None, None)
    assert protocol_settings("default", 4, 2) == (4, 2)
    assert protocol_settings("pni") == (1, 5)
    assert protocol_settings("pni", 1, 5) == (1, 5)
    config = EvalConfig(models=("m",), protocol="pni")
    assert (config.eot, config.trials) == (1, 5)
    with pytest.raises(ZooError, match=r"^--protocol=pni fixes --eot=1; got --eot=8"):
        EvalConfig(models=("m",), protocol="pni", eot=8)
    with pytest.raises(ZooError, match="protocol"):
        protocol_settings("athalye")
    with pytest.raises(ZooError, match="eot_mode"):
        EvalConfig(models=("m",), eot_mode="mean")
    with pytest.raises(ZooError, match="noise"):
        EvalConfig(models=("m",), noise="sometimes")
