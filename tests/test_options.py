"""Component specs and option parsing."""

from __future__ import annotations

import re

import pytest

from dreamengine.errors import DreamError
from dreamengine.options import coerce_options, factory_options, parse_assignment, parse_spec, parse_spec_list


def test_parse_spec_with_several_options():
    spec = parse_spec("gradient:start=red:end=#0040ff:angle=45")
    assert spec.name == "gradient"
    assert dict(spec.options) == {"start": "red", "end": "#0040ff", "angle": "45"}
    assert str(spec) == "gradient:start=red:end=#0040ff:angle=45"


def test_parse_spec_list_splits_commas_and_skips_none():
    assert [s.name for s in parse_spec_list("clamp,blur:sigma=0.5, flip")] == ["clamp", "blur", "flip"]
    assert parse_spec_list(["none"]) == [] and parse_spec_list("") == []


@pytest.mark.parametrize("text", ["blur:sigma=1:2", ":sigma=1", "blur:=3", "blur::1"])
def test_malformed_specs_are_explained(text):
    with pytest.raises(DreamError, match="malformed"):
        parse_spec(text)


def test_an_option_given_twice_by_name_is_an_error_not_the_last_one_silently():
    with pytest.raises(DreamError, match="option 'sigma' of 'blur' is given twice in 'blur:sigma=1:sigma=2'"):
        parse_spec("blur:sigma=1:sigma=2")


def test_positional_values_fill_the_options_in_order(host):
    spec = parse_spec("layer:blocks.5:12")
    assert spec.positional == ("blocks.5", "12") and str(spec) == "layer:blocks.5:12"
    assert host.registry.create("objectives", spec).channel == 12
    assert host.registry.create("regularizers", parse_spec("blur:0.1:every=2")).sigma == 0.1
    with pytest.raises(DreamError, match="'flip' takes 1 option.*got 2 positional"):
        host.registry.create("regularizers", parse_spec("flip:0.5:1"))
    with pytest.raises(DreamError, match="option 'sigma' of 'blur' is given twice"):
        host.registry.create("regularizers", parse_spec("blur:0.1:sigma=0.2"))


def test_parse_assignment():
    assert parse_assignment("blur.sigma=0.8") == ("blur", "sigma", "0.8")
    assert parse_assignment("cross-entropy.x=1") == ("cross-entropy", "x", "1")
    for text in ("sigma=0.8", "blur.sigma", "=1", "blur.=1"):
        with pytest.raises(DreamError, match=rf"malformed --set '{re.escape(text)}': write COMPONENT.OPTION=VALUE"):
            parse_assignment(text)


def example(sigma: float = 0.5, every: int = 1, name: str = "x", on: bool = False, limit: float | None = None):
    """An example factory."""


def test_options_are_read_from_the_signature_and_coerced():
    infos = factory_options(example)
    assert [i.name for i in infos] == ["sigma", "every", "name", "on", "limit"]
    values = coerce_options("example", {"sigma": "1", "every": "3", "on": "yes", "limit": "none"}, infos)
    assert values == {"sigma": 1.0, "every": 3, "on": True, "limit": None}
    assert coerce_options("example", {"limit": 2}, infos) == {"limit": 2.0}


def test_unknown_option_suggests_the_closest():
    with pytest.raises(DreamError, match="Did you mean 'sigma'"):
        coerce_options("example", {"sigm": "1"}, factory_options(example))


def test_badly_typed_option_is_explained():
    with pytest.raises(DreamError, match="'every' of 'example' must be int"):
        coerce_options("example", {"every": "two"}, factory_options(example))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_a_float_option_is_a_finite_number(value):
    """No component is handed nan or inf, from a spec's text or a TOML value alike."""
    with pytest.raises(DreamError, match="'sigma' of 'example' must be a finite number"):
        coerce_options("example", {"sigma": value}, factory_options(example))


def test_required_option_is_asked_for():
    def needs(path: str):
        """Needs a path."""

    with pytest.raises(DreamError, match="needs option"):
        coerce_options("needs", {}, factory_options(needs))
