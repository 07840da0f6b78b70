"""A montage: dreams (or any pictures) in one labelled grid, such as the channels of a layer dreamed side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from dreamengine.errors import DreamError
from dreamengine.run.imaging import ATTRIBUTION_KEY, as_rgb, picture_manifest

__all__ = ["MONTAGE_KEY", "is_montage", "label", "left_out", "montage"]

#: The key of a montage's own settings: it is not a dream, and ``evaluate`` leaves it out.
MONTAGE_KEY = "montage"

_GAP, _LABEL, _MIN_SIDE = 6, 16, 96


def label(path: Path, picture: Image.Image) -> str:
    """What a picture shows, from the settings a dream carries: its class, its objective, or both (``toucan
    (logit)``, for a part of objectives dreamed side by side that reads the class); the file's name for any other
    picture."""
    settings = picture_manifest(picture)
    try:
        part, target = settings.get("part"), settings.get("target")
        objective = part["objective"] if part else settings["config"]["objective"]
        if target is None:
            return objective
        return f"{target['name']} ({objective})" if part else target["name"]
    except (KeyError, TypeError):
        return path.stem


def is_montage(picture: Image.Image) -> bool:
    """Whether ``picture`` is a montage written by :func:`montage` (through ``dreamengine montage``)."""
    return MONTAGE_KEY in picture_manifest(picture)


def left_out(path: Path, picture: Image.Image) -> str | None:
    """Why a picture does not belong in a montage of dreams: it is a montage itself (``*.png`` finds the last
    one), a dream's side-by-side picture or its attribution map; ``None`` if it belongs."""
    if is_montage(picture):
        return "a montage"
    if path.stem.endswith("-side") and "config" in picture_manifest(picture):
        return "a side-by-side picture"
    if ATTRIBUTION_KEY in picture_manifest(picture):
        return "a dream's attribution map"
    return None


def montage(pictures: Sequence[tuple[Path, Image.Image]], columns: int | None = None) -> tuple[Image.Image, list[str]]:
    """``pictures`` (each with its file) in a grid of ``columns`` (about square without), each over its label;
    and the labels. Every cell has the largest picture's size, at least 96 pixels on its shorter side (small
    dreams are enlarged without smoothing, pixel for pixel); labels that would repeat are the files' names."""
    if not pictures:
        raise DreamError("a montage needs at least one picture.")
    if columns is not None and columns < 1:
        raise DreamError(f"--columns must be at least 1, got {columns}.")
    labels = [label(path, picture) for path, picture in pictures]
    if len(set(labels)) < len(labels):
        labels = [path.stem for path, _ in pictures]
    rgb = [as_rgb(picture) for _, picture in pictures]
    width, height = max(p.width for p in rgb), max(p.height for p in rgb)
    zoom = max(1, math.ceil(_MIN_SIDE / min(width, height)))
    cell_w, cell_h = width * zoom, height * zoom
    columns = min(columns or math.ceil(math.sqrt(len(rgb))), len(rgb))  # no empty columns
    rows = math.ceil(len(rgb) / columns)
    sheet = Image.new("RGB", (columns * (cell_w + _GAP) + _GAP, rows * (cell_h + _LABEL + _GAP) + _GAP), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for number, (picture, text) in enumerate(zip(rgb, labels)):
        left = _GAP + (number % columns) * (cell_w + _GAP)
        top = _GAP + (number // columns) * (cell_h + _LABEL + _GAP)
        enlarged = picture.resize((picture.width * zoom, picture.height * zoom), Image.Resampling.NEAREST)
        sheet.paste(enlarged, (left + (cell_w - enlarged.width) // 2, top + (cell_h - enlarged.height) // 2))
        draw.text((left, top + cell_h + 2), _fitted(draw, font, text, cell_w), fill="black", font=font)
    return sheet, labels


def _fitted(draw: ImageDraw.ImageDraw, font, text: str, width: int) -> str:
    """``text``, cut short with "..." where it is wider than ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."
