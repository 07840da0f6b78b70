"""The registry: built from plugins, names checked, errors for people."""

from __future__ import annotations

import pytest

from dreamengine import Objective, Regularizer, hookimpl
from dreamengine.errors import DreamError
from dreamengine.options import parse_spec
from dreamengine.registry import Registry

BUILTINS = {
    "objectives": {"logit", "cross-entropy", "layer", "diversity"},
    "regularizers": {"clamp", "blur", "flip", "jitter", "roll", "scale", "rotate", "tv", "l2", "gradnorm", "gradblur"},
    "initializers": {"gray", "gradient", "photo", "noise"},
    "parametrizations": {"pixel", "fft"},
    "strategies": {"octaves", "tile"},
    "models": {"efficientnet-lite0"},
    "presets": {"report", "deepdream"},
}


def test_builtins_are_registered_by_their_plugins(host):
    for kind, names in BUILTINS.items():
        assert set(host.registry.names(kind)) >= names
    assert host.registry.get("regularizers", "blur").plugin == "dreamengine_builtins.projections"
    assert host.registry.get("regularizers", "blur").summary.startswith("Gaussian blur")


def test_create_applies_options_and_extra_options_win(host):
    blur = host.registry.create("regularizers", parse_spec("blur:sigma=0.8"), {"sigma_max": "1.2"})
    assert (blur.sigma, blur.sigma_max) == (0.8, 1.2)
    assert repr(blur).startswith("Blur(sigma=0.8")


def test_unknown_name_suggests(host):
    with pytest.raises(DreamError, match="Did you mean 'blur'"):
        host.registry.create("regularizers", parse_spec("blurr"))


def test_wildcard_find(host):
    assert [e.name for e in host.registry.find("regularizers", "*l*")] == [
        "blur",
        "chromablur",
        "clamp",
        "flip",
        "gradblur",
        "l2",
        "roll",
        "scale",
    ]


class _Twice:
    @hookimpl
    def dreamengine_register_regularizers(self, register):
        """Registers a name the built-ins already use."""
        register("blur", Regularizer)


def test_duplicate_names_name_both_plugins(host):
    host.pm.register(_Twice(), name="twice")
    with pytest.raises(DreamError, match="'dreamengine_builtins.projections' and by plugin 'twice'"):
        Registry.build(host.pm)


class _WrongKind:
    @hookimpl
    def dreamengine_register_objectives(self, register):
        """Registers an objective whose factory builds a regularizer."""
        register("wrong", Regularizer)


def test_factory_must_build_the_right_kind(host):
    host.pm.register(_WrongKind(), name="wrongkind")
    with pytest.raises(DreamError, match="not an instance of Objective"):
        Registry.build(host.pm).create("objectives", parse_spec("wrong"))


class _Broken:
    @hookimpl
    def dreamengine_register_objectives(self, register):
        """Fails while registering."""
        raise RuntimeError("boom")


def test_a_failing_registration_names_the_plugin(host):
    host.pm.register(_Broken(), name="broken")
    with pytest.raises(
        DreamError, match="plugin 'broken' failed in dreamengine_register_objectives: RuntimeError: boom"
    ):
        Registry.build(host.pm)


def test_invalid_names_are_refused(host):
    class Bad:
        @hookimpl
        def dreamengine_register_objectives(self, register):
            """Registers a name with a colon."""
            register("a:b", Objective)

    host.pm.register(Bad(), name="bad")
    with pytest.raises(DreamError, match="invalid objective name"):
        Registry.build(host.pm)
