"""The images of a folder as the atlas reads them: listed recursively, decoded in a helper thread, fitted to
the atlas size as a photo start is (the largest centred region of the shape, resized, bicubic)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from PIL import Image

from dreamengine.errors import DreamError
from dreamengine.run.imaging import load_image, to_tensor

__all__ = ["image_files", "readable_files", "fit_box", "read_image", "fitted", "chunks", "decoded_batches"]

#: One decoded batch: its readable images as ``(index in the file list, (3, H, W) image)``, and its other files.
Decoded = tuple[list[tuple[int, torch.Tensor]], list[Path]]


def image_files(source: str | os.PathLike) -> list[Path]:
    """The files under ``source``, recursively, sorted; hidden files and folders are left out."""
    root = Path(source)
    if not root.is_dir():
        raise DreamError(f"image folder {str(root)!r} does not exist or is not a folder.")
    files = [
        path
        for path in root.rglob("*")
        if not any(part.startswith(".") for part in path.relative_to(root).parts) and path.is_file()
    ]
    if not files:
        raise DreamError(
            f"image folder {str(root)!r} holds no files: give a folder of images (DIR/*.jpg or DIR/<class>/*.jpg)."
        )
    return sorted(files)


def readable_files(source: str | os.PathLike) -> list[Path]:
    """:func:`image_files`, once one of them is seen to decode as an image (a folder of none is refused)."""
    files = image_files(source)
    if not any(read_image(path) is not None for path in files):
        raise DreamError(f"none of the {len(files)} files in {str(source)!r} is a readable image.")
    return files


def fit_box(picture_size: tuple[int, int], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The ``(left, top, right, bottom)`` region of a ``(width, height)`` picture that fitting it to a
    ``(height, width)`` ``size`` keeps: the largest centred region of that shape (as ``PIL.ImageOps.fit``)."""
    picture_width, picture_height = picture_size
    height, width = size
    if picture_width * height >= picture_height * width:  # wider than the target: full height
        kept_width, kept_height = picture_height * width / height, float(picture_height)
    else:
        kept_width, kept_height = float(picture_width), picture_width * height / width
    left, top = (picture_width - kept_width) / 2, (picture_height - kept_height) / 2
    return left, top, left + kept_width, top + kept_height


def chunks(files: list[Path], batch: int) -> Iterator[range]:
    """The indices of ``files`` in batches of ``batch`` (the last may be smaller)."""
    for start in range(0, len(files), batch):
        yield range(start, min(start + batch, len(files)))


def decoded_batches(files: list[Path], size: tuple[int, int], batch: int) -> Iterator[Decoded]:
    """Each batch of ``files`` decoded and fitted to ``size``; the next batch is decoded in a helper thread while
    the caller works on this one (the network's forward lets go of the GIL)."""
    ranges = list(chunks(files, batch))
    if not ranges:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="dreamengine-images") as pool:
        pending = pool.submit(_decode_chunk, files, ranges[0], size)
        for following in [*ranges[1:], None]:
            current = pending
            if following is not None:
                pending = pool.submit(_decode_chunk, files, following, size)
            yield current.result()


def _decode_chunk(files: list[Path], chunk: range, size: tuple[int, int]) -> Decoded:
    pictures, bad = [], []
    for index in chunk:
        picture = read_image(files[index])
        if picture is None:
            bad.append(files[index])
        else:
            pictures.append((index, fitted(picture, size)))
    return pictures, bad


def read_image(path: Path) -> Image.Image | None:
    """``path`` as RGB, or ``None`` if it is not a readable image."""
    try:
        return load_image(path)
    except DreamError:
        return None


def fitted(picture: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """``picture`` fitted to ``(height, width)`` ``size`` as ``PIL.ImageOps.fit`` and a photo start do, as a
    ``(3, height, width)`` image in [0, 1]."""
    height, width = size
    return to_tensor(picture.resize((width, height), Image.Resampling.BICUBIC, box=fit_box(picture.size, size)))
