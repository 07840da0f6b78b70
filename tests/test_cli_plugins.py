"""The command line with third-party plugins: listing, collisions, switching them off, their commands."""

from __future__ import annotations

import pytest

from dreamengine.cli import cli

REGISTERS_BRACKETS = '''
    from dreamengine import Regularizer, hookimpl

    class Square(Regularizer):
        """Keep pixels in [low, high] and [bold]nothing else[/bold]."""
        def project(self, image, generator):
            return image

    @hookimpl
    def dreamengine_register_regularizers(register):
        register("square", Square)
'''


@pytest.fixture(autouse=True)
def fresh_host(monkeypatch):
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "0")
    monkeypatch.setattr("dreamengine.cli._HOST", None)
    monkeypatch.setattr("dreamengine.cli.console.width", 200)
    from dreamengine.cli import listing, run  # noqa: F401


def invoke(runner, *args):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_summaries_are_shown_as_written_not_as_markup(runner, fake_distribution):
    fake_distribution("dreamengine-square", "fake_square", REGISTERS_BRACKETS)
    output = invoke(runner, "list", "regularizers").output
    assert "Keep pixels in [low, high] and [bold]nothing else[/bold]." in output.replace("\n", " ").replace("│", "")
    assert "from [sigma, sigma_max]" in " ".join(invoke(runner, "list", "regularizers", "blur").output.split())
