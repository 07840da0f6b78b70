"""The ``dreamengine`` command line: a click group whose commands live one per module."""

from __future__ import annotations

import click
from rich.console import Console

from ..errors import DreamError
from ..plugins import PluginHost, load_plugins

__all__ = ["cli", "main", "get_host", "console", "err_console"]

console = Console()
err_console = Console(stderr=True)


class DreamGroup(click.Group):
    """A group that turns :class:`DreamError` into a one-line error and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DreamError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=DreamGroup)
@click.version_option(package_name="dreamengine")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Dream with vision networks: gradient ascent on the input image, with plugins.

    Start with `dreamengine run`; see what is installed with `dreamengine list`
    and `dreamengine plugins`.
    """


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The plugin host for this process (loaded once, warnings about broken plugins shown once)."""
    global _HOST
    if _HOST is None:
        _HOST = load_plugins()
        for failure in _HOST.failures:
            err_console.print(f"[yellow]warning:[/] plugin {failure.name!r} ({failure.distribution}) "
                              f"{failure.message}", highlight=False)
    return _HOST


def main() -> None:
    """Entry point of the ``dreamengine`` script."""
    from . import demo_data, listing, run, study, train  # noqa: F401  (modules add their commands to the group)

    try:
        get_host().hook.dreamengine_register_commands(cli=cli)
    except DreamError as error:
        raise SystemExit(f"Error: {error}") from None
    cli()
