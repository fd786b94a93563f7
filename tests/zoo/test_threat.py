"""The threat model owns eps, step and norm defaults, one unit (pixel scale) and one parameter vocabulary."""
import io
import pathlib
import tokenize

import pytest
from absl import flags

from zoo.cli import define_pixels
from zoo.errors import ZooError
from zoo.threat import EPS_SWEEP, L2, LINF, LINF_TRAIN, ThreatModel, format_pixels, parse_pixels, pixel_list

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_threat_models_are_the_papers():
    assert (LINF.norm, LINF.eps, LINF.step_size, LINF.steps) == ("linf", 8 / 255, 2 / 255, 20)
    assert (LINF_TRAIN.eps, LINF_TRAIN.step_size, LINF_TRAIN.steps) == (8 / 255, 0.01, 7)
    assert (L2.norm, L2.eps) == ("l2", 0.5)
    assert EPS_SWEEP[0] == 0 and EPS_SWEEP[-1] == 16 / 255
    with pytest.raises(ValueError, match="norm='l1'"):
        ThreatModel("l1", 1.0, 0.1, 1)


def test_pgd_parameters_use_one_vocabulary_and_the_step_rule():
    assert LINF.pgd() == {"eps": 8 / 255, "step_size": 2 / 255, "steps": 20}
    assert LINF.pgd(steps=7, eps=1 / 255) == {"eps": 1 / 255, "step_size": 1 / 255, "steps": 7}  # step <= eps
    assert LINF.pgd(step_size=0.01)["step_size"] == 0.01
    assert LINF.describe() == "L-inf eps 8/255" and L2.describe() == "L2 eps 0.5"


@pytest.mark.parametrize("text, value", [("8/255", 8 / 255), ("0.0314", 0.0314), (" 2/255 ", 2 / 255), ("0", 0.0),
                                         (0.5, 0.5), ("1", 1.0)])
def test_parse_pixels_reads_numbers_and_fractions(text, value):
    assert parse_pixels("eps", text) == pytest.approx(value)


@pytest.mark.parametrize("text, message", [
    ("8", "--eps=8: expected a value in [0, 1] (pixel scale: write 8/255 for 8 grey levels)"),
    ("a", "--eps=a: expected a pixel-scale number such as 0.0314 or a fraction such as 8/255"),
    ("1/0", "--eps=1/0: expected a pixel-scale number"),
    ("-0.1", "--eps=-0.1: expected a value in [0, 1] (pixel scale)"),
])
def test_parse_pixels_errors_are_one_line_and_name_the_value(text, message):
    with pytest.raises(ZooError) as err:
        parse_pixels("eps", text)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_step_size_must_be_positive():
    with pytest.raises(ZooError, match=r"--step_size=0: expected a value in \(0, 1\]"):
        parse_pixels("step_size", "0", positive=True)
    assert pixel_list("eps_list", ["0", "8/255"]) == (0.0, 8 / 255)


def test_format_pixels_round_trips_through_parse():
    for eps in EPS_SWEEP:
        assert parse_pixels("eps_list", format_pixels(eps)) == pytest.approx(eps)
    assert format_pixels(0.5, "l2") == "0.5" and format_pixels(0.01) == "0.01"


def test_pixel_flag_reads_fractions():
    fv = flags.FlagValues()
    define_pixels("eps", LINF.eps, "budget", flag_values=fv)
    fv(["prog", "--eps=4/255"])
    assert fv.eps == pytest.approx(4 / 255)
    with pytest.raises(flags.IllegalFlagValueError, match="a fraction such as 8/255"):
        fv(["prog", "--eps=four"])


def _fractions_of_255(path):
    """(line, text) of every ``<number> / 255`` written in code (comments and docstrings left out)."""
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    return [(a.start[0], f"{a.string}/{c.string}") for a, b, c in zip(tokens, tokens[1:], tokens[2:])
            if a.type == tokenize.NUMBER and b.string == "/" and c.string in ("255", "255.0")
            and a.string not in ("1", "1.0")]  # x / 255 pixel conversions of uint8 images are not budgets


def test_budgets_are_written_only_in_the_threat_module():
    found = {f"{p.relative_to(ROOT)}:{line}": text
             for package in ("zoo", "trainers", "eval") for p in sorted((ROOT / package).rglob("*.py"))
             if p.name != "threat.py" for line, text in _fractions_of_255(p)}
    assert not found, f"budgets written outside zoo/threat.py: {found}"
