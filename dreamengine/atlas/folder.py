"""The atlas's folder: where everything in it lives, what it may hold before the atlas writes there, every write.

Every path in the folder is spelled here, once, relative to the folder with ``/`` (as the unit records, examples.json
and the site's links keep them):

- ``atlas.json`` (:data:`PLAN`, read by :func:`read_atlas_json` alone): the plan, its layers as
  :class:`AtlasLayer` records;
- ``units/<slug>/<unit>.png``, ``-v<k>.png``, ``.json`` and ``.html``: each unit's dream, variants, record and page;
  ``thumbs/<slug>/<unit>.jpg``: its thumbnail (:data:`THUMB_SIDE`);
- ``examples.json`` (:data:`EXAMPLES`) and the crops under ``examples/`` (:data:`CROP_SIDE`);
- ``classes.json`` (:data:`CLASSES`) and the class pages under ``classes/``;
- ``index.html``, ``layers/<slug>.html`` and ``assets/``: the rest of the site.

The atlas writes only into a folder that is missing, empty, or an atlas it made
(:class:`~dreamengine.run.owned.OwnedFolder`: the list of what it wrote), never
among the images it reads, and only files it put on that list; ``--restart``
deletes what the list names under ``units/`` and ``thumbs/``, nothing else.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamengine.atlas.images import readable_files
from dreamengine.errors import DreamError
from dreamengine.run.owned import OwnedFolder, check_apart

__all__ = [
    "COMMAND",
    "PLAN",
    "MARKER",
    "VERSION",
    "EXAMPLES",
    "CLASSES",
    "INDEX",
    "CLASS_INDEX",
    "STYLESHEET",
    "SCRIPT",
    "LOGITS",
    "THUMB_SIDE",
    "CROP_SIDE",
    "JPEG_QUALITY",
    "AtlasLayer",
    "dream_path",
    "variant_path",
    "thumb_path",
    "record_path",
    "unit_page_path",
    "layer_page_path",
    "class_page_path",
    "crop_path",
    "image_crop_path",
    "read_atlas_json",
    "atlas_folder",
    "check_images_apart",
    "checked_images",
    "is_unit_file",
]

#: The command whose folder it is, as the folder's list of written files names it.
COMMAND = "atlas"
#: The atlas's plan: the model, the settings every unit shares, the layers and units.
PLAN = "atlas.json"
#: The file only an atlas writes: a folder that holds it without the list is an earlier release's atlas.
MARKER = PLAN
#: The version of ``atlas.json``'s layout.
VERSION = 1
#: The dataset examples of every unit, and the images they come from.
EXAMPLES = "examples.json"
#: The links between the units of the layer a classifier pools and its classes.
CLASSES = "classes.json"
#: The site's first page, and the classes' index.
INDEX = "index.html"
CLASS_INDEX = "classes/index.html"
#: The site's stylesheet and script, copied from the package.
STYLESHEET = "assets/atlas.css"
SCRIPT = "assets/atlas.js"
#: The pseudo-layer of a classifier's logits (its name in ``atlas.json`` and ``examples.json``): its units are
#: the classes.
LOGITS = "logits"
#: The side of a unit's thumbnail in pixels: the size of a layer page's grid cell.
THUMB_SIDE = 96
#: The longer side, in pixels, of a dataset example's crop.
CROP_SIDE = 128
#: JPEG quality of the thumbnails and the crops.
JPEG_QUALITY = 85
#: The folders of the units' files (their dreams, variants, records and pages; their thumbnails): what
#: ``--restart`` deletes, of what the list names.
_UNITS, _THUMBS = "units", "thumbs"


@dataclass(frozen=True)
class AtlasLayer:
    """One layer of an atlas, as ``atlas.json`` records it: the plan's, and the one the site's pages read.

    Attributes:
        name: the module's dotted name, or :data:`LOGITS`.
        slug: its folder name under ``units/`` and ``thumbs/`` (:func:`~dreamengine.atlas.plan.atlas_slugs`).
        kind: ``"features"`` or ``"logits"``.
        shape: its output for one image at the atlas size, without the batch (channels first).
        units: the channels (or classes) the atlas dreams, ascending.
        cost: the share of a full forward run to reach it (what a forward stopped there costs), 0 to 1.
    """

    name: str
    slug: str
    kind: str
    shape: tuple[int, ...]
    units: tuple[int, ...]
    cost: float = 0.0

    @property
    def page(self) -> str:
        """The layer's page, relative to the atlas folder."""
        return layer_page_path(self.slug)

    def to_json(self) -> dict[str, Any]:
        """The layer's record in ``atlas.json``."""
        return {
            "name": self.name,
            "slug": self.slug,
            "kind": self.kind,
            "shape": list(self.shape),
            "units": list(self.units),
            "cost": round(self.cost, 4),
        }

    @classmethod
    def from_json(cls, record: dict) -> AtlasLayer:
        """The layer a record of ``atlas.json`` holds; a slug that is no file name is a ``ValueError``."""
        slug = str(record["slug"])
        if not slug or slug in (".", "..") or not re.fullmatch(r"[^/\\\x00-\x1f]+", slug):
            raise ValueError(f"layer {record['name']!r} has slug {slug!r}, which is no file name")
        shape = tuple(int(n) for n in record.get("shape") or ())
        units = tuple(int(unit) for unit in record["units"])
        kind = str(record.get("kind", "features"))
        return cls(str(record["name"]), slug, kind, shape, units, float(record.get("cost") or 0.0))


def dream_path(slug: str, unit: int) -> str:
    """Unit ``unit``'s dream, of the layer whose slug is ``slug``."""
    return f"{_UNITS}/{slug}/{unit}.png"


def variant_path(slug: str, unit: int, k: int) -> str:
    """Unit ``unit``'s ``k``-th variant (from 1)."""
    return f"{_UNITS}/{slug}/{unit}-v{k}.png"


def record_path(slug: str, unit: int) -> str:
    """Unit ``unit``'s record: its files with their checksums, its activation; written last."""
    return f"{_UNITS}/{slug}/{unit}.json"


def unit_page_path(slug: str, unit: int) -> str:
    """Unit ``unit``'s page."""
    return f"{_UNITS}/{slug}/{unit}.html"


def thumb_path(slug: str, unit: int) -> str:
    """Unit ``unit``'s thumbnail, a JPEG of :data:`THUMB_SIDE`."""
    return f"{_THUMBS}/{slug}/{unit}.jpg"


def layer_page_path(slug: str) -> str:
    """The page of the layer whose slug is ``slug``."""
    return f"layers/{slug}.html"


def class_page_path(index: int, name: str) -> str:
    """The page of class ``index``: its index, then its name made file-safe."""
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return f"classes/{index}{'-' + words if words else ''}.html"


def crop_path(slug: str, unit: int, tag: str, rank: int) -> str:
    """The crop of unit ``unit``'s example of rank ``rank`` (``tag`` ``neg`` for a negative example, else ``""``)."""
    return f"examples/{slug}/{unit}-{tag}{rank}.jpg"


def image_crop_path(position: int) -> str:
    """The crop of a whole dataset image, the ``position``-th of examples.json's ``images``, which units share."""
    return f"examples/images/{position}.jpg"


def read_atlas_json(output: str | os.PathLike) -> dict[str, Any] | None:
    """The ``atlas.json`` in the atlas folder ``output``, or ``None`` when there is none; a broken one, or one of
    another version, is an error."""
    path = Path(output) / PLAN
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DreamError(
            f"{str(path)!r} is not an atlas's plan ({error}); move it away or give another --output."
        ) from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise DreamError(f"{str(path)!r} is not an atlas of version {VERSION}; give another --output.")
    return data


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
    return relative.startswith((f"{_UNITS}/", f"{_THUMBS}/"))
