"""Directions in a layer's channel space, from example pictures: what sets some pictures apart from others.

A direction is the mean feature (over pictures and positions) of the pictures
it points toward, minus that of the pictures it points away from; the
``direction`` objective then dreams it (``direction:LAYER:path=FILE.pt``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import ImageOps

from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.run.imaging import load_image, to_tensor, write_atomic

__all__ = ["IMAGE_SUFFIXES", "Features", "example_files", "mean_features", "read_vector", "save_direction"]

#: the files a folder of examples gives: pictures Pillow reads, by their suffix.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass
class Features:
    """The mean feature of some pictures at a layer, how many pictures it is the mean of, and the files skipped."""

    mean: torch.Tensor
    count: int
    skipped: list[Path] = field(default_factory=list)


def example_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The files given, and the pictures in the folders given (and their sub-folders), each folder's sorted."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DreamError(f"folder {str(path)!r} holds no pictures ({', '.join(IMAGE_SUFFIXES)}).")
            files += found
        else:
            files.append(path)
    return files


def mean_features(
    model: DreamModel, layer: str, files: Sequence[Path], on_picture: Callable[[int, int], None] | None = None
) -> Features:
    """The mean over ``files`` and over positions of ``layer``'s output, each picture shown at the model's input
    size (cropped about its centre to the model's shape); files that are not readable pictures are skipped."""
    height, width = model.input_size
    total, count, skipped = None, 0, []
    for number, file in enumerate(files, 1):
        try:
            picture = ImageOps.fit(load_image(file), (width, height))
        except DreamError:
            skipped.append(file)
        else:
            output = model.layer_output(layer, to_tensor(picture)[None])
            mean = output.flatten(2).mean(2)[0] if output.dim() > 2 else output[0]
            total, count = (mean if total is None else total + mean), count + 1
        if on_picture is not None:
            on_picture(number, len(files))
    if total is None:
        raise DreamError(f"none of the {len(files)} files is a readable picture (e.g. {str(files[0])!r}).")
    return Features(total / count, count, skipped)


def read_vector(path: str | Path) -> torch.Tensor:
    """Read one vector of channel weights: a tensor saved with ``torch.save`` (``.pt``, ``.pth``), a NumPy array
    (``.npy``), or numbers separated by spaces, commas or new lines (any other file, e.g. ``.txt``).

    Returns:
        a float32 vector; a file that does not hold one finite, non-zero vector is a :class:`DreamError`.
    """
    path = Path(path)
    if not path.is_file():
        raise DreamError(f"direction file {str(path)!r} does not exist.")
    try:
        values = _load(path)
    except DreamError:
        raise
    except Exception as error:  # each format fails in its own way; the message says which file and why
        raise DreamError(f"cannot read a direction from {str(path)!r} ({type(error).__name__}: {error}).") from None
    if not isinstance(values, torch.Tensor) or values.dim() != 1 or values.is_complex() or not len(values):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise DreamError(f"{str(path)!r} must hold one vector of channel weights; it holds {shape}.")
    values = values.float()
    if not torch.isfinite(values).all() or not values.any():
        raise DreamError(f"the direction in {str(path)!r} must be finite and not all zeros.")
    return values


def _load(path: Path) -> object:
    if path.suffix in (".pt", ".pth"):
        return torch.load(path, map_location="cpu", weights_only=True)
    if path.suffix == ".npy":
        return torch.from_numpy(np.load(path, allow_pickle=False))
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise DreamError(
            f"cannot read a direction from {str(path)!r}: it is not text, and only a .pt, .pth or .npy "
            "file is read as binary (a picture is not a direction: `dreamengine direction` makes one "
            "from pictures)."
        ) from None
    return torch.from_numpy(np.array(text.replace(",", " ").split(), dtype=np.float64))


def save_direction(vector: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write ``vector`` as float32 in the format :func:`read_vector` reads from that name (``torch.save`` for
    ``.pt`` and ``.pth``, NumPy's for ``.npy``, else text: one number a line), atomically; a file there that is
    not a direction (one vector) is kept, and is an error."""
    path = Path(path)
    if path.exists() and not _is_direction(path):
        raise DreamError(f"{str(path)!r} is there and is not a direction: name another file with -o.")
    values = vector.detach().cpu().float()
    return write_atomic(path, lambda handle: _write(values, path.suffix, handle))


def _write(values: torch.Tensor, suffix: str, handle) -> None:
    if suffix in (".pt", ".pth"):
        torch.save(values, handle)
    elif suffix == ".npy":
        np.save(handle, values.numpy())
    else:  # each float32 exactly: its shortest decimal as a double reads back to the same float32
        handle.write("".join(f"{value!r}\n" for value in values.tolist()).encode())


def _is_direction(path: Path) -> bool:
    try:
        read_vector(path)
    except DreamError:
        return False
    return True
