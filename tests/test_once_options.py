"""Every command refuses an option that takes one value when it is given twice (click would keep the last)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from dreamengine.cli import cli
from dreamengine.cli.once import OnceOption


def single_valued(command: click.Command) -> list[click.Option]:
    """The options of ``command`` that take one value: not flags, counts or repeatable lists."""
    options = [param for param in command.params if isinstance(param, click.Option)]
    repeatable = [option for option in options if option.multiple and not isinstance(option, OnceOption)]
    return [
        option for option in options if not (option.is_flag or option.count or option in repeatable or option.hidden)
    ]


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_each_option_that_takes_one_value_is_given_once(name):
    for option in single_valued(cli.commands[name]):
        assert isinstance(option, OnceOption), f"{name} {option.opts[0]}: given twice, it must be refused"


def test_an_option_given_twice_is_refused_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["train", str(tmp_path), "--epochs", "1", "--epochs", "2"])
    assert result.exit_code == 2
    assert "Invalid value for '--epochs': given 2 times (1, 2); give it once." in " ".join(result.output.split())
