"""The atlas's folder: what it may hold before the atlas writes there, and every write into it.

The atlas writes only into a folder that is missing, empty, or an atlas it made
(:class:`~dreamengine.run.owned.OwnedFolder`: the list of what it wrote), never
among the images it reads, and only files it put on that list; ``--restart``
deletes what the list names under ``units/`` and ``thumbs/``, nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

from dreamengine.atlas.images import readable_files
from dreamengine.run.owned import OwnedFolder, check_apart

__all__ = ["COMMAND", "MARKER", "atlas_folder", "check_images_apart", "checked_images", "is_unit_file"]

#: The command whose folder it is, as the folder's list of written files names it.
COMMAND = "atlas"
#: The file only an atlas writes: a folder that holds it without the list is an earlier release's atlas.
MARKER = "atlas.json"


def atlas_folder(output: str | os.PathLike) -> OwnedFolder:
    """The atlas folder ``output``, written through its list."""
    return OwnedFolder(Path(output), COMMAND)


def check_images_apart(output: str | os.PathLike, images: str | os.PathLike) -> None:
    """Refuse an atlas folder equal to, inside, or holding its folder of images, before anything is written."""
    check_apart(output, images, output_option="--output", source_option="--images")


def checked_images(output: str | os.PathLike, images: str | os.PathLike | None) -> list[Path]:
    """The files of the folder ``images`` (none without it), refused before anything is written where it is not a
    folder apart from the atlas ``output``, or holds no readable image."""
    if images is None:
        return []
    check_images_apart(output, images)
    return readable_files(images)


def is_unit_file(relative: str) -> bool:
    """Whether ``relative`` (a path on the folder's list) is a unit's dream, record, thumbnail or page: what
    ``--restart`` deletes, and what a resume checks against the unit's record and makes again when damaged."""
    return relative.startswith(("units/", "thumbs/"))
