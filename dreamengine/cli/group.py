"""The ``dreamengine`` click group: one-line errors, the plugin host, the commands plugins add, ``main``."""

from __future__ import annotations

import os
import sys

import click

from dreamengine.cli.output import warn
from dreamengine.errors import DreamError, compile_failure, out_of_memory
from dreamengine.plugins import PluginHost, load_plugins
from dreamengine.registry import call_one

__all__ = ["cli", "main", "get_host", "add_plugin_commands"]


class DreamGroup(click.Group):
    """A group that turns :class:`DreamError`, running out of memory and a failed ``torch.compile`` into a
    one-line error and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DreamError as error:
            raise click.ClickException(str(error)) from None
        except (MemoryError, RuntimeError) as error:
            plain = out_of_memory(error, ctx.invoked_subcommand) or compile_failure(error)
            if plain is None:
                raise
            raise click.ClickException(str(plain)) from None


def _no_plugins(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        os.environ["DREAMENGINE_NO_ENTRYPOINTS"] = "1"


@click.group(cls=DreamGroup)
@click.version_option(package_name="dreamengine")
@click.option(
    "--no-plugins",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_no_plugins,
    help="Load only the built-in plugins (as DREAMENGINE_NO_ENTRYPOINTS=1 does).",
)
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
            warn(f"plugin {failure.name!r} ({failure.distribution}) {failure.message}")
    return _HOST


def add_plugin_commands(host: PluginHost, group: click.Group) -> None:
    """Let each plugin add its commands to ``group``.

    A plugin that fails, or that would replace a command already there, is
    skipped with a warning naming it; the other commands keep working.
    """
    for impl in host.hook.dreamengine_register_commands.get_hookimpls():
        before = dict(group.commands)
        who = f"plugin {impl.plugin_name!r} ({host.distribution(impl.plugin_name)})"
        block = f"fix or upgrade it, or block it with DREAMENGINE_BLOCK_PLUGINS={impl.plugin_name}"
        try:
            call_one(host.pm, "dreamengine_register_commands", impl, cli=group)
        except Exception as error:
            group.commands = before
            warn(f"{who} could not add its commands ({type(error).__name__}: {error}); {block}.")
            continue
        replaced = sorted(name for name, command in before.items() if group.commands.get(name) is not command)
        if replaced:
            group.commands = before
            warn(
                f"{who} tried to replace the command(s) {', '.join(replaced)}, so none of its commands "
                f"were added; {block}."
            )


def main() -> None:
    """Entry point of the ``dreamengine`` script."""
    if "--no-plugins" in _leading_options(sys.argv[1:]):
        os.environ["DREAMENGINE_NO_ENTRYPOINTS"] = "1"  # before the host loads: plugin commands are added first
    add_plugin_commands(get_host(), cli)
    cli()


def _leading_options(args: list[str]) -> list[str]:
    """The options before the command name: the group's own."""
    leading = []
    for arg in args:
        if not arg.startswith("-"):
            break
        leading.append(arg)
    return leading
