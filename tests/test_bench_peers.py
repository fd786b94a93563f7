"""The benchmark peers are timed at the budget they are compared with (bench/autoattack.py, issue 13)."""
import types

from bench import peer_torchattacks


def fake_torchattacks():
    """A stand-in for the torchattacks module: each class records the keyword arguments it was built with."""
    def cls(name):
        return type(name, (), {"__init__": lambda self, model, **kw: setattr(self, "kw", kw)})
    return types.SimpleNamespace(**{n: cls(n) for n in ("APGD", "APGDT", "FAB", "Square", "AutoAttack")},
                                 MultiAttack=lambda attacks: types.SimpleNamespace(attacks=attacks))


REQ = {"eps": 8 / 255, "seed": 0, "n_iter": 100, "square_queries": 5000, "eot_iter": 20}


def test_apgd_ce_peer_takes_the_rand_versions_eot_draws():
    ta = fake_torchattacks()
    rand = peer_torchattacks.make_attack(ta, "apgd_ce", None, {**REQ, "version": "rand"})
    standard = peer_torchattacks.make_attack(ta, "apgd_ce", None, {**REQ, "version": "standard"})
    assert rand.kw["eot_iter"] == 20 and rand.kw["steps"] == 100 and rand.kw["loss"] == "ce"
    assert "eot_iter" not in standard.kw  # torchattacks' default: one draw, as ours without EOT
    protocol = peer_torchattacks.make_attack(ta, "autoattack_protocol", None, {**REQ, "version": "rand"})
    assert [(a.kw["loss"], a.kw["eot_iter"]) for a in protocol.attacks] == [("ce", 20), ("dlr", 20)]
