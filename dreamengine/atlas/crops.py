"""The crops of the dataset examples: each unit's receptive field about its peak, cut from the original file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from dreamengine.atlas.folder import CROP_SIDE, JPEG_QUALITY, image_crop_path
from dreamengine.atlas.images import fit_box, read_image
from dreamengine.run.imaging import write_atomic
from dreamengine.run.owned import OwnedFolder

__all__ = ["write_crops", "save_crop"]


def write_crops(result: dict, folder: OwnedFolder, size: tuple[int, int]) -> None:
    """Cut every kept example's crop into the atlas ``folder``, reading each kept image once.

    Records that crop the same pixels share one file: a whole image (the logits', and a deep layer's field that
    covers the picture) is ``examples/images/<n>.jpg`` (``n`` its number in ``images``), and units of a layer
    that peak in the same cell of the same image share the first one's crop. An image unreadable now (changed
    since the pass) gets no crop, and its records say so (``crop`` is ``None``).
    """
    height, width = size
    wanted: dict[int, list[dict]] = {}
    for group in ("layers", "negative"):
        for records in result.get(group, {}).values():
            for examples in records.values():
                for record in examples:
                    wanted.setdefault(record["image"], []).append(record)
    root = Path(result["source"])
    for position, records in sorted(wanted.items()):
        picture = read_image(root / result["images"][position])
        region = fit_box(picture.size, size) if picture is not None else None
        written: dict[tuple[int, ...], str] = {}
        for record in records:
            box = tuple(record.get("box") or (0, 0, width, height))
            if box == (0, 0, width, height):
                record["crop"] = image_crop_path(position)
            if picture is None or region is None:
                record["crop"] = None
            elif box in written:
                record["crop"] = written[box]
            else:
                save_crop(picture, region, box, size, folder.claim(record["crop"]))
                written[box] = record["crop"]


def save_crop(
    picture: Image.Image,
    region: tuple[float, float, float, float],
    box: Sequence[int],
    size: tuple[int, int],
    path: Path,
) -> None:
    """Cut ``box`` (pixels at the atlas ``size``) out of the original ``picture``, of which ``region`` is what
    the network saw, and save it as a JPEG of :data:`~dreamengine.atlas.folder.CROP_SIDE` (a large photo is first
    reduced by a whole factor, as Pillow's ``reducing_gap`` does: much faster, and as sharp)."""
    height, width = size
    left, top, right, bottom = box
    scale_x, scale_y = (region[2] - region[0]) / width, (region[3] - region[1]) / height
    cut = (
        region[0] + left * scale_x,
        region[1] + top * scale_y,
        region[0] + right * scale_x,
        region[1] + bottom * scale_y,
    )
    longer = max(right - left, bottom - top)
    shape = (max(1, round(CROP_SIDE * (right - left) / longer)), max(1, round(CROP_SIDE * (bottom - top) / longer)))
    crop = picture.resize(shape, Image.Resampling.BICUBIC, box=cut, reducing_gap=3.0)
    write_atomic(path, lambda f: crop.save(f, format="JPEG", quality=JPEG_QUALITY))
