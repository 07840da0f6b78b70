"""The ``dreamengine`` click group: one-line errors, the plugin host, the commands plugins add, ``main``.

The command line starts at once: ``main`` adds the commands of the entry-point
plugins alone (the built-ins import torch and add no command), and the full
host, built-ins first, is loaded only when a command asks for it (:func:`get_host`).
"""

from __future__ import annotations

import importlib
import sys

import click

from dreamengine.cli.output import loading, stop_interrupted, warn
from dreamengine.errors import DreamError, compile_failure, out_of_memory
from dreamengine.hookspecs import call_one
from dreamengine.interrupts import INTERRUPTED, interrupts_held
from dreamengine.plugins import PluginFailure, PluginHost, load_plugins

__all__ = ["cli", "main", "get_host", "add_plugin_commands", "TorchCommand"]

#: where ``--no-plugins`` leaves its choice, in the command's context
NO_PLUGINS = "dreamengine.no_plugins"


class DreamGroup(click.Group):
    """A group that turns :class:`DreamError`, running out of memory and a failed ``torch.compile`` into a
    one-line error and a non-zero exit, and Ctrl-C that no command caught (while torch imports, while a model
    loads) into one line and exit 130."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            stop_interrupted(INTERRUPTED)
        except DreamError as error:
            raise click.ClickException(str(error)) from None
        except (MemoryError, RuntimeError) as error:
            plain = out_of_memory(error, ctx.invoked_subcommand) or compile_failure(error)
            if plain is None:
                raise
            raise click.ClickException(str(plain)) from None


class TorchCommand(click.Command):
    """A command that needs torch: torch is imported under a status line before the command runs (it takes
    seconds), so that something is on screen at once. The command imports its own modules in its body."""

    def invoke(self, ctx: click.Context):
        with loading("torch"):
            importlib.import_module("torch")
        return super().invoke(ctx)


def _no_plugins(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[NO_PLUGINS] = True


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
_WARNED: set[PluginFailure] = set()


def get_host() -> PluginHost:
    """The plugin host for this process: built-ins, then entry points unless ``--no-plugins`` was given.

    Loaded once, under a status line (the built-ins import torch); a broken
    plugin is warned about once, however many hosts load it.
    """
    global _HOST
    if _HOST is None:
        context = click.get_current_context(silent=True)
        no_plugins = context is not None and context.meta.get(NO_PLUGINS, False)
        with loading("plugins"):
            _HOST = load_plugins(entry_points=False if no_plugins else None)
        _warn_failures(_HOST)
    return _HOST


def _warn_failures(host: PluginHost) -> None:
    for failure in host.failures:
        if failure not in _WARNED:
            _WARNED.add(failure)
            warn(f"plugin {failure.name!r} ({failure.distribution}) {failure.message}")


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
    """Entry point of the ``dreamengine`` script: add the entry-point plugins' commands, then run the group."""
    try:
        with interrupts_held():  # a plugin's import is never cut in two
            if "--no-plugins" not in _leading_options(sys.argv[1:]):
                commands = load_plugins(builtins=False)  # the built-ins add no command, and import torch
                _warn_failures(commands)
                add_plugin_commands(commands, cli)
    except KeyboardInterrupt:
        stop_interrupted(INTERRUPTED)
    cli()


def _leading_options(args: list[str]) -> list[str]:
    """The options before the command name: the group's own."""
    leading = []
    for arg in args:
        if not arg.startswith("-"):
            break
        leading.append(arg)
    return leading
