"""`dreamengine info`: what a dream shows, how it was made, and the command line that makes it again."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.output import console, counted, err_console
from dreamengine.errors import DreamError
from dreamengine.run.config import RunConfig

# Reading dreams imports PIL and torch: those modules are imported in the functions that use them, not here,
# because `dreamengine --help` imports every command's module and should start at once (see TorchCommand).


@cli.command("info", cls=TorchCommand)
@click.argument("dreams", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def info_command(dreams: tuple[Path, ...]) -> None:
    """Show what each dream in DREAMS shows, how it was made, and the `dreamengine run` that makes it again.

    The command line is the dream's preset (if any) and every setting that is
    not the preset's or the default, without -o: run it, or `dreamengine run
    --from DREAM`, to make the same picture again.

    \b
    Examples:
      dreamengine info dreams/flamingo-seed0.png
      dreamengine info dreams/*.png
    """
    failed = 0
    for number, path in enumerate(dreams):
        try:
            table, again = _summary(path)
            if number:
                console.print()  # a blank line between dreams
            console.print(table)
            console.print(again, soft_wrap=True, highlight=False, markup=False)  # one line, to copy whole
        except DreamError as error:
            err_console.print(f"Error: {escape(str(error))}", highlight=False, soft_wrap=True)
            failed += 1
    if failed:
        raise SystemExit(1)


def _summary(path: Path) -> tuple[Table, str]:
    """A two-column table of one dream (what it shows, its model, size and steps, versions), and the command
    line that makes it again."""
    from dreamengine.run.imaging import read_manifest
    from dreamengine.run.recipe import command_line, stored_config

    manifest = read_manifest(path)
    _refuse_collections(path, manifest)
    config = stored_config(path)
    table = Table(title=str(path), title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in _rows(path, manifest):
        table.add_row(name, escape(value))
    return table, shlex.join(["dreamengine", "run", *command_line(config, _preset(config))])


def _refuse_collections(path: Path, manifest: dict[str, Any]) -> None:
    """A montage or a study's contact sheet shows many dreams: say so, and where they are."""
    from dreamengine.analysis.montage import MONTAGE_KEY
    from dreamengine.run.imaging import SHEET_KEY

    if MONTAGE_KEY in manifest:
        pictures = manifest[MONTAGE_KEY].get("pictures") or []
        raise DreamError(
            f"{str(path)!r} is a montage of {counted(len(pictures), 'picture')}, not "
            "one dream: give their files "
            f"({', '.join(pictures[:2])}{', ...' if len(pictures) > 2 else ''})."
        )
    if SHEET_KEY in manifest:
        raise DreamError(
            f"{str(path)!r} is a study's contact sheet, not one dream: its dreams are in the study's cells/ folder."
        )


def _preset(config: RunConfig) -> dict[str, Any] | None:
    """The settings of the dream's preset, if it is registered here (else the command line spells them out)."""
    if not config.preset or config.preset not in get_host().registry.names("presets"):
        return None
    return get_host().registry.get("presets", config.preset).target


def _rows(path: Path, manifest: dict[str, Any]) -> list[tuple[str, str]]:
    from dreamengine.analysis.montage import label
    from dreamengine.run.imaging import ATTRIBUTION_KEY, open_image

    width, height = manifest.get("size") or ("?", "?")
    steps = f"{manifest.get('steps_done', '?')} of {manifest['config'].get('steps', '?')} steps"
    if manifest.get("interrupted"):
        steps += ", stopped by Ctrl-C"
    rows = [
        ("dreams", label(path, open_image(path))),
        ("from", manifest["config"].get("init", "?")),
        ("model", manifest["config"].get("checkpoint") or manifest.get("model", {}).get("name", "?")),
        ("size", f"{width}x{height}, {steps}, score {manifest.get('score', float('nan')):.4g}"),
    ]
    weights = (manifest.get("model") or {}).get("weights") or {}
    if weights:
        rows.append(("weights", f"{weights.get('file', '?')}, sha256 {weights.get('sha256', '?')}"))
    if manifest.get("diverged"):
        rows.append(("diverged", manifest["diverged"]))
    if ATTRIBUTION_KEY in manifest:
        rows.append(("picture", "its attribution map: the dream, faded where the objective did not look (alpha)"))
    part = manifest.get("part")
    if part:
        rows.append(("batch", f"item {part['item'] + 1} of objectives dreamed side by side"))
    versions = manifest.get("versions") or {}
    rows.append(("made with", ", ".join(f"{name} {version}" for name, version in versions.items())))
    return rows
