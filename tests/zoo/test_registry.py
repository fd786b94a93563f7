"""``zoo.registry.Registry``: the one name -> entry table behind the model, trainer, attack, corruption,
perturbation and suite registries."""
from collections.abc import Mapping

import pytest

from zoo.errors import ZooError
from zoo.registry import Registry


@pytest.fixture
def colors():
    reg = Registry("color")
    reg.register("red", 1)
    reg.register("blue", 2)
    return reg


def test_register_returns_the_entry_and_get_finds_it():
    reg = Registry("color")
    entry = object()
    assert reg.register("red", entry) is entry
    assert reg.get("red") is entry and reg["red"] is entry


def test_decorator_form_registers_and_returns_the_function():
    reg = Registry("suite")

    @reg.register("whitebox")
    def whitebox(ctx):
        return ctx

    assert reg.get("whitebox") is whitebox and whitebox(3) == 3


def test_a_name_registered_twice_is_a_value_error(colors):
    with pytest.raises(ValueError, match="color 'red' registered twice"):
        colors.register("red", 3)
    with pytest.raises(ValueError, match="registered twice"):
        colors.register("blue")(lambda: None)
    assert colors["red"] == 1 and colors["blue"] == 2


def test_names_are_sorted_and_iteration_keeps_registration_order(colors):
    assert colors.names() == ["blue", "red"]
    assert list(colors) == ["red", "blue"] and sorted(colors) == ["blue", "red"]


def test_is_a_read_only_mapping(colors):
    assert isinstance(colors, Mapping)
    assert "red" in colors and "green" not in colors and [] not in colors
    assert len(colors) == 2 and dict(colors.items()) == {"red": 1, "blue": 2} and list(colors.values()) == [1, 2]
    with pytest.raises(KeyError):
        colors["green"]
    with pytest.raises(TypeError):
        colors["green"] = 3
    with pytest.raises(TypeError):
        del colors["red"]


def test_unknown_name_is_a_one_line_zoo_error_listing_the_names(colors):
    with pytest.raises(ZooError) as info:
        colors.get("green")
    assert str(info.value) == "unknown color 'green': expected one of blue, red"
    with pytest.raises(ZooError, match=r"^unknown color \['x'\]: expected one of blue, red$"):
        colors.get(["x"])  # unhashable: unknown too, not a TypeError
    with pytest.raises(ZooError, match="^unknown color 'x': expected one of [(]none[)]$"):
        Registry("color").get("x")


def test_flag_form_names_the_command_line_flag(colors):
    with pytest.raises(ZooError) as info:
        colors.get("green", flag="color")
    assert str(info.value) == "--color=green: expected one of blue, red"
    assert colors.get("red", flag="color") == 1


def test_get_with_a_default_keeps_the_mapping_contract(colors):
    assert colors.get("green", None) is None and colors.get("green", 7) == 7 and colors.get("red", 7) == 1


def _project_registries():
    import eval.corruptions.perturbations as perturbations
    import eval.suites  # noqa: F401  (registers the suites)
    import trainers.methods  # noqa: F401  (registers the methods)
    from eval.attacks import ATTACKS
    from eval.corruptions import CORRUPTIONS
    from eval.suites.context import SUITES
    from trainers.base import TRAINERS
    from zoo.models.registry import MODELS
    return {"model": MODELS, "training method": TRAINERS, "attack": ATTACKS, "corruption": CORRUPTIONS,
            "perturbation": perturbations.PERTURBATIONS, "suite": SUITES}


@pytest.mark.parametrize("kind", ["model", "training method", "attack", "corruption", "perturbation", "suite"])
def test_every_project_registry_is_one_registry_with_one_line_errors(kind):
    reg = _project_registries()[kind]
    assert isinstance(reg, Registry) and reg.kind == kind and len(reg) >= 5
    with pytest.raises(ZooError) as info:
        reg.get("no_such_name")
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"unknown {kind} 'no_such_name': expected one of ")
    assert message.endswith(", ".join(reg.names()))


def test_the_public_lookups_go_through_the_registries():
    import zoo
    from eval.attacks import get, list_attacks
    from eval.corruptions import get as get_corruption
    from eval.corruptions.perturbations import get_perturbation
    regs = _project_registries()
    assert zoo.list_models() == regs["model"].names() and list_attacks() == regs["attack"].names()
    assert get("pgd") is regs["attack"]["pgd"] and get_corruption("fog") is regs["corruption"]["fog"]
    assert get_perturbation("rotate") is regs["perturbation"]["rotate"]
    assert regs["training method"]["pgd"].method == "pgd"
    for lookup, kind in ((zoo.create, "model"), (get, "attack"), (get_corruption, "corruption"),
                         (get_perturbation, "perturbation")):
        with pytest.raises(ZooError, match=f"^unknown {kind} 'nope': expected one of "):
            lookup("nope")
