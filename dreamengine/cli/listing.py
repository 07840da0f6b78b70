"""`dreamengine list` and `dreamengine plugins`: what is installed, as rich tables."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dreamengine import hookspecs
from dreamengine.cli.group import cli, get_host
from dreamengine.cli.once import once
from dreamengine.cli.output import console
from dreamengine.errors import DreamError, unknown_name

# The registry module imports torch (it checks components against their classes): it is imported in the
# functions that use it, not here, because `dreamengine --help` imports every command's module.


def _kind(value: str | None) -> str | None:
    from dreamengine.registry import KINDS, singular

    if value is None:
        return None
    for kind in KINDS:
        if value in (kind, singular(kind)):
            return kind
    raise click.BadParameter(f"choose one of {', '.join(KINDS)}", param_hint="KIND")


@cli.command("list")
@click.argument("kind", required=False)
@click.argument("pattern", default="*")
def list_components(kind: str | None, pattern: str) -> None:
    """List components: KIND is objectives, regularizers, initializers, parametrizations, strategies, panels, models or
    presets.

    PATTERN filters names with wildcards, e.g. `dreamengine list regularizers 'b*'`.
    """
    from dreamengine.registry import KINDS

    registry = get_host().registry
    for name in [_kind(kind)] if kind else list(KINDS):
        entries = registry.find(name, pattern)
        if not entries and pattern != "*":
            raise _no_match(name, pattern, registry.names(name))
        table = Table(title=name.capitalize(), title_justify="left", show_lines=False)
        for column in ("name", "plugin", "options" if name not in ("models", "presets") else "", "summary"):
            if column:
                table.add_column(column, overflow="fold")
        for entry in entries:
            row = [entry.name, entry.plugin]
            if name not in ("models", "presets"):
                row.append("\n".join(option.describe() for option in entry.options) or "-")
            table.add_row(*(Text(cell) for cell in row), _summary(entry.summary))
        console.print(table)
        if name == "models":
            console.print(
                "Any timm architecture name also works with --model "
                "(random weights unless --pretrained or --checkpoint)."
            )


def _no_match(kind: str, pattern: str, names: list[str]) -> DreamError:
    """The error for a pattern that matches no name of ``kind``: a plain name gets the closest names suggested."""
    from dreamengine.registry import singular

    if any(char in pattern for char in "*?["):
        return DreamError(f"no {singular(kind)} matches {pattern!r}; `dreamengine list {kind}` lists them all.")
    return unknown_name(singular(kind), pattern, names)


def _hook_name(name: str) -> str:
    """The hook ``name`` means (the ``dreamengine_`` prefix may be left out), or an error suggesting one."""
    hooks = {n.removeprefix("dreamengine_"): n for n in hookspecs.hook_names()}
    short = name.removeprefix("dreamengine_")
    if short in hooks:
        return hooks[short]
    raise unknown_name("hook", name, hooks)


def _summary(text: str) -> Text:
    """A docstring's summary line for the terminal: its ``literals`` in bold, without the backticks."""
    parts = text.split("``")
    if len(parts) % 2 == 0:  # an unpaired ``: show it as written
        return Text(text)
    rendered = Text()
    for number, part in enumerate(parts):
        rendered.append(part, style="bold" if number % 2 else "")
    return rendered


@cli.command("plugins")
@once("--hook", help="Only plugins implementing this hook, e.g. dreamengine_step_end (or step_end).")
def list_plugins(hook: str | None) -> None:
    """List the loaded plugins: name, distribution, version and hooks, then any problems.

    Works even when plugins clash, to show which ones.
    """
    host = get_host()
    if hook is not None:
        hook = _hook_name(hook)
    table = Table(title="Plugins", title_justify="left")
    for column in ("name", "distribution", "version", "hooks"):
        table.add_column(column, overflow="fold")
    for info in host.infos:
        if hook is None or hook in info.hooks:
            table.add_row(info.name, info.distribution, info.version, "\n".join(info.hooks))
    console.print(table)
    try:
        _ = host.registry  # building it is what finds name clashes
    except DreamError as error:
        console.print(f"[red]registry problem:[/] {escape(str(error))}", highlight=False)
    for failure in host.failures:
        console.print(
            f"[red]not loaded:[/] {escape(f'{failure.name} ({failure.distribution}): {failure.message}')}",
            highlight=False,
        )
