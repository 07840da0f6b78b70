"""`dreamengine montage`: dreams in one labelled grid, written as a PNG."""

from __future__ import annotations

import re
from pathlib import Path

import click

from dreamengine.cli.group import TorchCommand, cli
from dreamengine.cli.once import once
from dreamengine.cli.output import console, counted
from dreamengine.errors import DreamError

# Reading and drawing pictures imports PIL and torch: they are imported in the functions that use them, not
# here, because `dreamengine --help` imports every command's module and should start at once (see TorchCommand).


@cli.command("montage", cls=TorchCommand)
@click.argument("pictures", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))  # files or folders
@once(
    "-o",
    "--output",
    default="montage.png",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The PNG to write (a montage there before is replaced, any other file kept).",
)
@once("--columns", type=int, help="Pictures across. [default: about square]")
@click.option(
    "--as-given", is_flag=True, help="Keep the pictures in the order given, not by their names with numbers as numbers."
)
def montage_command(pictures: tuple[Path, ...], output: Path, columns: int | None, as_given: bool) -> None:
    """Put dreams (or any pictures; a folder gives its PNGs) in one labelled grid: the channels of a layer, ...

    Each picture is labelled with what it dreamed, from the settings it
    carries (the part of objectives dreamed side by side, its class, or its
    objective), or with its file's name. They are ordered by their file names,
    numbers as numbers (channel 2 before channel 10). Montages and
    side-by-side pictures among PICTURES (as dreams/*.png finds them) are left
    out.

    \b
    Examples:
      dreamengine run --objective "$(seq -f 'layer:blocks.4:%g' -s '; ' 0 15)" -o atlas
      dreamengine montage atlas -o atlas.png --columns 8
    """
    from dreamengine.analysis.montage import MONTAGE_KEY, left_out, montage
    from dreamengine.run.imaging import open_image, save_png

    if output.suffix.lower() != ".png":
        raise DreamError(f"--output {str(output)!r}: a montage is written as a .png file.")
    if output.exists() and not _is_montage(output):
        raise DreamError(f"{str(output)!r} is there and is not a montage: name another file with -o.")
    files = [file for path in pictures for file in _pictures_in(path)]
    kept = []
    for path in files if as_given else sorted(files, key=_natural):
        picture = open_image(path)
        why = left_out(path, picture)
        if why is None:
            kept.append((path, picture))
        else:
            console.print(f"left out {path}: {why}", highlight=False)
    sheet, labels = montage(kept, columns)
    save_png(sheet, output, {MONTAGE_KEY: {"pictures": [str(path) for path, _ in kept], "labels": labels}})
    console.print(f"wrote {output} ({counted(len(kept), 'picture')}, {sheet.width}x{sheet.height})", highlight=False)


def _pictures_in(path: Path) -> list[Path]:
    """``path`` itself, or the PNG files in a folder (not in its sub-folders)."""
    if not path.is_dir():
        return [path]
    found = sorted(path.glob("*.png"))
    if not found:
        raise DreamError(f"folder {str(path)!r} holds no PNG files.")
    return found


def _natural(path: Path) -> list:
    """A sort key that puts ``layer-blocks-4-2`` before ``layer-blocks-4-10``, as a shell's ``*`` does not."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(path))]


def _is_montage(path: Path) -> bool:
    from dreamengine.analysis.montage import is_montage
    from dreamengine.run.imaging import open_image

    try:
        return is_montage(open_image(path))
    except DreamError:  # not a readable picture: not a montage
        return False
