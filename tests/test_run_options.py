"""The options of ``dreamengine run`` cannot drift from the RunConfig fields they set (issue 21)."""

from __future__ import annotations

import dataclasses
import typing

import click
import pytest

from dreamengine.cli.once import OnceOption
from dreamengine.cli.run import run_command
from dreamengine.engine.loop import OPTIMIZERS
from dreamengine.run.acceleration import PRECISIONS
from dreamengine.run.config import RunConfig

#: RunConfig fields that ``run`` has no option for, only a config file, a preset or ``--from`` (none today).
CONFIG_ONLY: frozenset[str] = frozenset()
#: Options that set a field of another name: ``--set COMPONENT.OPTION=VALUE`` fills ``options``.
SETS_FIELD = {"assignments": "options"}
#: Options that are no setting: they name where the settings come from.
NOT_SETTINGS = frozenset({"config_file", "from_png"})
#: The values each choice option offers, as the engine defines them.
CHOICES = {"optimizer": set(OPTIMIZERS), "precision": set(PRECISIONS), "animation": {"gif", "webp"}}

FIELDS = {field.name: field for field in dataclasses.fields(RunConfig)}
HINTS = typing.get_type_hints(RunConfig)
OPTIONS = {SETS_FIELD.get(param.name, param.name): param for param in run_command.params}


def test_every_field_is_an_option_and_every_option_a_field():
    assert set(FIELDS) - CONFIG_ONLY == set(OPTIONS) - NOT_SETTINGS


@pytest.mark.parametrize("name", sorted(set(FIELDS) - CONFIG_ONLY))
def test_each_option_takes_its_fields_type(name):
    param, hint = OPTIONS[name], HINTS[name]
    kinds = {arg for arg in typing.get_args(hint) if arg is not type(None)} or {hint}
    takes_many = param.multiple and not isinstance(param, OnceOption)
    if typing.get_origin(hint) in (list, dict):
        assert takes_many, f"--{name} sets a list: it must be repeatable"
    elif kinds == {bool}:
        assert param.is_flag and param.secondary_opts, f"--{name} sets a bool: it must be an on/off flag"
    else:
        assert isinstance(param, OnceOption), f"--{name} takes one value: give twice, it must be refused"
        expected = {int: (click.types.IntParamType,), float: (click.types.FloatParamType,)}.get(
            next(iter(kinds)) if len(kinds) == 1 else str, (click.types.StringParamType, click.Choice, click.Path)
        )
        assert isinstance(param.type, expected), f"--{name} is {param.type!r}, its field {hint}"


@pytest.mark.parametrize("name", sorted(set(FIELDS) - CONFIG_ONLY))
def test_each_option_leaves_the_default_to_the_field_and_shows_it(name):
    """An option's own default is 'not given', so that a preset, a config file or --from is not overridden; its
    help shows the field's default where it shows one."""
    param, default = OPTIONS[name], getattr(RunConfig(), name)
    given = run_command.make_context("run", []).params[param.name]
    assert given in (None, ()), f"--{name} has its own default {given!r}"
    shown = param.help.partition("[default: ")[2].rstrip("]") if param.help else ""
    if shown and not isinstance(default, bool):
        text = ", ".join(default) if isinstance(default, list) else str(default)
        assert shown == text or default is None, f"--{name} shows the default {shown!r}, the field's is {text!r}"


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_a_choice_offers_what_the_engine_takes(name):
    assert set(OPTIONS[name].type.choices) == CHOICES[name]
