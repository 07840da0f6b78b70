"""Image-folder datasets: one sub-folder per class, with a train/ + val/ split or a seeded one.

Images are decoded once, resized and kept in memory as uint8 tensors, so every
epoch after the first costs no decoding; files that cannot be read as images are
skipped and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from dreamengine.errors import DreamError
from dreamengine.run.imaging import as_rgb

__all__ = ["ImageFolder", "LoadedImages", "scan_dataset", "load_images"]

Item = tuple[Path, int]


@dataclass
class ImageFolder:
    """The files of a dataset: class names and ``(path, class index)`` pairs per split."""

    root: Path
    classes: list[str]
    train: list[Item]
    val: list[Item]
    split: str


@dataclass
class LoadedImages:
    """Decoded images ``(N, 3, size, size)`` uint8 with their labels, and the files that could not be read."""

    images: torch.Tensor
    labels: torch.Tensor
    skipped: list[Path] = field(default_factory=list)


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def scan_dataset(root: str | Path, *, val_fraction: float = 0.2, seed: int = 0) -> ImageFolder:
    """List a dataset's classes and files; refuse what is not an image-folder dataset."""
    root = Path(root)
    if not root.is_dir():
        raise DreamError(f"dataset folder {str(root)!r} does not exist or is not a folder.")
    if not any(root.iterdir()):
        raise DreamError(f"dataset folder {str(root)!r} is empty.")
    if (root / "train").is_dir() and (root / "val").is_dir():
        classes, train = _scan_classes(root / "train")
        _, val = _scan_classes(root / "val", classes)
        return ImageFolder(root, classes, train, val, "train/ and val/ folders")
    if not 0 <= val_fraction < 1:
        raise DreamError(f"the validation fraction must be in [0, 1), got {val_fraction}.")
    classes, items = _scan_classes(root)
    train, val = _seeded_split(items, len(classes), val_fraction, seed)
    return ImageFolder(root, classes, train, val, f"seeded split ({val_fraction:.0%} validation, seed {seed})")


def _scan_classes(folder: Path, known: list[str] | None = None) -> tuple[list[str], list[Item]]:
    folders = _class_folders(folder)
    if not folders:
        raise DreamError(
            f"{str(folder)!r} is not an image-folder dataset: it needs one sub-folder per class "
            "(DIR/<class>/*.png), or train/ and val/ folders that each hold them."
        )
    names = [f.name for f in folders]
    if known is not None:
        stray = [n for n in names if n not in known]
        if stray:
            raise DreamError(f"{str(folder)!r} has class folder(s) {', '.join(stray)} that the train/ folder lacks.")
    items = []
    for class_folder in folders:
        files = _files(class_folder)
        if not files and known is None:
            raise DreamError(f"class {class_folder.name!r} has no images ({str(class_folder)!r} is empty).")
        index = (known or names).index(class_folder.name)
        items += [(path, index) for path in files]
    return names, items


def _seeded_split(items: list[Item], classes: int, val_fraction: float, seed: int) -> tuple[list[Item], list[Item]]:
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in range(classes):
        mine = [item for item in items if item[1] == label]
        order = rng.permutation(len(mine))
        count = min(round(len(mine) * val_fraction), len(mine) - 1)
        val += [mine[i] for i in order[:count]]
        train += [mine[i] for i in order[count:]]
    return train, val


def _decode(path: Path, size: int) -> np.ndarray | None:
    try:
        with Image.open(path) as picture:
            picture = as_rgb(picture).resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(picture, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def load_images(items: list[Item], size: int, on_image: Callable[[int, int], None] | None = None) -> LoadedImages:
    """Decode and resize ``items`` to ``size`` x ``size``; unreadable files are skipped and listed."""
    arrays, labels, skipped = [], [], []
    for done, (path, label) in enumerate(items, 1):
        array = _decode(path, size)
        if array is None:
            skipped.append(path)
        else:
            arrays.append(array)
            labels.append(label)
        if on_image is not None:
            on_image(done, len(items))
    images = (
        torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        if arrays
        else torch.empty((0, 3, size, size), dtype=torch.uint8)
    )
    return LoadedImages(images, torch.tensor(labels, dtype=torch.long), skipped)
