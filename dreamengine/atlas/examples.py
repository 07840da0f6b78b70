"""Dataset examples: the real images that drive each unit most, from one streaming pass over a folder.

Every image is read once, fitted to the atlas size the way a photo start is (cropped about its centre to the
shape, then resized, bicubic), and put through the network in batches: one forward per batch for every layer
asked for, stopped at the deepest unless the logits are wanted. Per unit, a :class:`TopK` keeps the ``k`` best
images seen so far (their mean activation of the unit, the quantity the channel objective maximises, and where
its map peaks), merged with each new batch: memory holds ``units x k`` numbers, whatever the number of images.

Afterwards only the winning images are read again, each once, to cut each unit's crop: the unit's receptive
field (:mod:`dreamengine.atlas.receptive`) about its peak, cut from the original file (so a large photo gives a
sharp crop), saved as a small JPEG. A file that is not a readable image is skipped and named in one warning.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from dreamengine.atlas.receptive import ReceptiveField, receptive_field
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.run.imaging import load_image, to_tensor, write_atomic

__all__ = ["CROP_SIDE", "LOGITS", "TopK", "collect_examples", "fit_box", "image_files"]

#: The longer side, in pixels, of a saved crop.
CROP_SIDE = 128
#: JPEG quality of the crops (as the atlas's thumbnails).
JPEG_QUALITY = 85
#: The name of the classifier's logits as a pseudo-layer of the atlas.
LOGITS = "logits"
#: The version of examples.json's format.
_VERSION = 1
#: Unreadable files named in the warning; the rest are counted.
_NAMED = 5

Progress = Callable[[int, int], None]


class TopK:
    """The ``k`` largest (or smallest) values of each row seen so far, with the image and the peak of each.

    Its size is fixed by ``rows x k``: :meth:`update` merges a batch into what is kept with one stable sort of
    ``[kept; new]`` per row, so ties keep the image seen first, and nothing else is held.
    """

    def __init__(self, rows: int, k: int, *, largest: bool = True) -> None:
        if k < 1:
            raise DreamError(f"the number of examples per unit must be at least 1, got {k}.")
        self.k = k
        self.largest = largest
        self.values = torch.empty(rows, 0)
        self.images = torch.empty(rows, 0, dtype=torch.long)
        self.peaks = torch.empty(rows, 0)
        self.where = torch.empty(rows, 0, dtype=torch.long)

    def update(self, values: torch.Tensor, images: torch.Tensor, peaks: torch.Tensor, where: torch.Tensor) -> None:
        """Merge a batch: ``values``, ``peaks`` and ``where`` are ``(rows, batch)``, ``images`` ``(batch,)``, the
        indices of the batch's images (increasing)."""
        values = torch.cat([self.values, values.float().cpu()], 1)
        order = torch.sort(values, dim=1, descending=self.largest, stable=True).indices[:, : self.k]
        self.values = values.gather(1, order)
        images = torch.cat([self.images, images.cpu().expand(values.shape[0], -1)], 1)
        self.images = images.gather(1, order)
        self.peaks = torch.cat([self.peaks, peaks.float().cpu()], 1).gather(1, order)
        self.where = torch.cat([self.where, where.cpu()], 1).gather(1, order)

    @property
    def nbytes(self) -> int:
        """The bytes held."""
        return sum(t.numel() * t.element_size() for t in (self.values, self.images, self.peaks, self.where))

    def __repr__(self) -> str:
        return f"TopK(rows={self.values.shape[0]}, k={self.k}, largest={self.largest})"


@dataclass
class _Layer:
    """One layer of the atlas being watched: its units, receptive field and kept examples."""

    name: str
    slug: str
    units: list[int]
    field: ReceptiveField | None
    best: TopK
    worst: TopK | None
    shape: tuple[int, ...] = ()  # the map's (height, width), or () for logits and tokens


def collect_examples(
    model: DreamModel,
    layers: Sequence[Mapping[str, Any]],
    source: str | os.PathLike,
    output: str | os.PathLike,
    k: int = 8,
    negatives: bool = False,
    batch: int = 16,
    on_progress: Progress | None = None,
    *,
    size: tuple[int, int] | None = None,
) -> dict:
    """Find each unit's ``k`` most activating images in the folder ``source``, cut their crops into
    ``output/examples/`` and write ``output/examples.json`` (atomically); returns what it wrote.

    A second call with the same model (weights), layers, units, settings and files (names, sizes, times) finds
    examples.json's ``fingerprint`` unchanged and every crop in place, and returns it without a pass: an atlas
    resumed after Ctrl-C does not look at its images again.

    Args:
        model: the model, frozen.
        layers: the atlas's layer records (``name``, ``slug``, ``units``; ``logits`` for the classifier's logits).
        source: a class-folder dataset or a flat folder of images (read recursively; hidden files are not).
        output: the atlas folder.
        k: examples kept per unit.
        negatives: also keep the ``k`` most negative examples (their ``peak`` is the map's minimum).
        batch: images per forward.
        on_progress: called after each batch with ``(images done, images in all)``.
        size: ``(height, width)`` the images are fitted to; default: the ``size`` of ``output/atlas.json``,
            else the model's input size.
    """
    if batch < 1:
        raise DreamError(f"the batch of images must be at least 1, got {batch}.")
    output = Path(output)
    files = image_files(source, exclude=output)
    height, width = size or _atlas_size(output) or model.input_size
    fingerprint = _fingerprint(model, layers, files, (height, width), k, negatives)
    done = _done(output, fingerprint)
    if done is not None:
        if on_progress is not None:
            on_progress(len(files), len(files))
        return done
    watched = [_watch(model, record, k, negatives, (height, width)) for record in layers]
    count, skipped = _stream(model, watched, files, (height, width), batch, on_progress)
    if skipped:
        _warn_skipped(skipped, Path(source))
    if not count:
        raise DreamError(f"none of the {len(files)} files in {str(source)!r} is a readable image.")
    result = {**_result(watched, files, Path(source), k, count, skipped, (height, width)), "fingerprint": fingerprint}
    _write_crops(result, output, (height, width))
    write_atomic(output / "examples.json", lambda f: f.write(json.dumps(result, indent=1).encode()))
    return result


def image_files(source: str | os.PathLike, *, exclude: str | os.PathLike | None = None) -> list[Path]:
    """The files under ``source``, recursively, sorted; hidden files and folders are left out, and so is
    everything under ``exclude`` (the atlas itself, when it is written inside the folder of images)."""
    root = Path(source)
    if not root.is_dir():
        raise DreamError(f"image folder {str(root)!r} does not exist or is not a folder.")
    skip = Path(exclude).resolve() if exclude is not None else None
    files = [
        path
        for path in root.rglob("*")
        if not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.is_file()
        and (skip is None or not path.resolve().is_relative_to(skip))
    ]
    if not files:
        raise DreamError(
            f"image folder {str(root)!r} holds no files: give a folder of images (DIR/*.jpg or DIR/<class>/*.jpg)."
        )
    return sorted(files)


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


def _fingerprint(
    model: DreamModel,
    layers: Sequence[Mapping[str, Any]],
    files: list[Path],
    size: tuple[int, int],
    k: int,
    negatives: bool,
) -> str:
    """A digest of everything examples.json depends on: the network's weights, the layers and units, the
    settings, and each file's name, size and modification time."""
    digest = hashlib.sha256()
    wanted = [[str(r["name"]), str(r.get("slug", r["name"])), [int(u) for u in r["units"]]] for r in layers]
    digest.update(json.dumps([_VERSION, k, negatives, list(size), wanted]).encode())
    for name, tensor in model.net.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode(errors="surrogateescape"))
    return digest.hexdigest()


def _done(output: Path, fingerprint: str) -> dict | None:
    """examples.json, if it was made with the same ``fingerprint`` and its crops are all in place."""
    try:
        done = json.loads((output / "examples.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(done, dict) or done.get("fingerprint") != fingerprint:
        return None
    crops = {
        record.get("crop")
        for group in ("layers", "negative")
        for records in done.get(group, {}).values()
        for examples in records.values()
        for record in examples
    }
    return done if all(crop is None or (output / crop).is_file() for crop in crops) else None


def _atlas_size(output: Path) -> tuple[int, int] | None:
    """The ``size`` of the atlas's plan, if there is one."""
    try:
        plan = json.loads((output / "atlas.json").read_text(encoding="utf-8"))
        height, width = plan["size"]
        return int(height), int(width)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _watch(model: DreamModel, record: Mapping[str, Any], k: int, negatives: bool, size: tuple[int, int]) -> _Layer:
    """A layer record's watch, its units checked against the layer before any image is read."""
    name, units = str(record["name"]), [int(unit) for unit in record["units"]]
    if name == LOGITS:
        channels, field = model.num_classes, None
    else:
        output = model.layer_output(name, torch.full((1, 3, *size), 0.5))
        if not isinstance(output, torch.Tensor) or output.dim() < 2:
            raise DreamError(f"layer {name!r} of {model.name} does not output a tensor, so it has no units.")
        channels, field = output.shape[1], receptive_field(model, name, size)
    stray = [unit for unit in units if not 0 <= unit < channels]
    if stray:
        raise DreamError(f"layer {name!r} of {model.name} has {channels} units (0-{channels - 1}), not {stray[0]}.")
    worst = TopK(len(units), k, largest=False) if negatives else None
    return _Layer(name, str(record.get("slug", name)), units, field, TopK(len(units), k), worst)


def _stream(
    model: DreamModel,
    watched: list[_Layer],
    files: list[Path],
    size: tuple[int, int],
    batch: int,
    on_progress: Progress | None,
) -> tuple[int, list[Path]]:
    """The pass over the images; returns how many were read and the files that were not."""
    count, skipped, done = 0, [], 0
    model.eval()
    for chunk, (pictures, bad) in zip(_chunks(files, batch), _decoded(files, size, batch), strict=True):
        skipped += bad
        if pictures:
            indices = torch.tensor([index for index, _ in pictures])
            _observe(model, watched, torch.stack([image for _, image in pictures]), indices)
            count += len(pictures)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(files))
    return count, skipped


def _chunks(files: list[Path], batch: int) -> Iterator[range]:
    for start in range(0, len(files), batch):
        yield range(start, min(start + batch, len(files)))


def _decoded(files: list[Path], size: tuple[int, int], batch: int) -> Iterator[tuple[list, list[Path]]]:
    """Each batch's readable images as ``(index, (3, H, W) tensor)`` and its unreadable files; the next batch is
    decoded in a helper thread while the network runs on this one."""
    with ThreadPoolExecutor(1, thread_name_prefix="dreamengine-examples") as pool:
        pending: Future | None = None
        for chunk in _chunks(files, batch):
            current = pending if pending is not None else pool.submit(_decode_chunk, files, chunk, size)
            following = chunk.stop
            pending = (
                pool.submit(_decode_chunk, files, range(following, min(following + batch, len(files))), size)
                if following < len(files)
                else None
            )
            yield current.result()


def _decode_chunk(files: list[Path], chunk: range, size: tuple[int, int]) -> tuple[list, list[Path]]:
    pictures, bad = [], []
    for index in chunk:
        picture = _read(files[index])
        if picture is None:
            bad.append(files[index])
        else:
            pictures.append((index, _fitted(picture, size)))
    return pictures, bad


def _read(path: Path) -> Image.Image | None:
    """``path`` as RGB, or ``None`` if it is not a readable image."""
    try:
        return load_image(path)
    except DreamError:
        return None


def _fitted(picture: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    height, width = size
    return to_tensor(picture.resize((width, height), Image.Resampling.BICUBIC, box=fit_box(picture.size, size)))


def _observe(model: DreamModel, watched: list[_Layer], images: torch.Tensor, indices: torch.Tensor) -> None:
    """One forward of a batch; each layer's kept examples take it in."""
    names = [layer.name for layer in watched if layer.name != LOGITS]
    wants_logits = len(names) < len(watched)
    with torch.no_grad(), model.capture(names, stop_early=not wants_logits) as seen:
        logits = model(images.to(model.mean.device))
        outputs = {**seen, LOGITS: logits} if wants_logits else dict(seen)
    for layer in watched:
        _take(layer, outputs[layer.name], indices)


def _take(layer: _Layer, output: torch.Tensor, indices: torch.Tensor) -> None:
    chosen = output[:, layer.units].float()
    layer.shape = tuple(chosen.shape[2:]) if chosen.dim() == 4 else ()
    cells = chosen.flatten(2) if chosen.dim() > 2 else chosen[:, :, None]
    mean = cells.mean(2).T
    high, high_at = cells.max(2)
    layer.best.update(mean, indices, high.T, high_at.T)
    if layer.worst is not None:
        low, low_at = cells.min(2)
        layer.worst.update(mean, indices, low.T, low_at.T)


def _result(
    watched: list[_Layer],
    files: list[Path],
    source: Path,
    k: int,
    count: int,
    skipped: list[Path],
    size: tuple[int, int],
) -> dict:
    """examples.json's content; ``images`` lists only the images some unit keeps, in the order read."""
    kept = sorted(
        {int(i) for layer in watched for top in (layer.best, layer.worst) if top for i in top.images.flatten()}
    )
    number = {index: position for position, index in enumerate(kept)}
    result: dict[str, Any] = {
        "version": _VERSION,
        "k": k,
        "source": str(source),
        "size": list(size),
        "count": count,
        "skipped": [path.relative_to(source).as_posix() for path in skipped],
        "images": [files[index].relative_to(source).as_posix() for index in kept],
        "layers": {layer.name: _records(layer, layer.best, number, size, "") for layer in watched},
    }
    if any(layer.worst is not None for layer in watched):
        result["negative"] = {
            layer.name: _records(layer, layer.worst, number, size, "neg") for layer in watched if layer.worst
        }
    return result


def _records(layer: _Layer, top: TopK, number: dict[int, int], size: tuple[int, int], tag: str) -> dict:
    records = {}
    for row, unit in enumerate(layer.units):
        records[str(unit)] = [
            _record(layer, top, row, rank, number, size, f"examples/{layer.slug}/{unit}-{tag}{rank}.jpg")
            for rank in range(top.values.shape[1])
        ]
    return records


def _record(
    layer: _Layer, top: TopK, row: int, rank: int, number: dict[int, int], size: tuple[int, int], crop: str
) -> dict:
    record: dict[str, Any] = {
        "image": number[int(top.images[row, rank])],
        "activation": _number(top.values[row, rank]),
        "peak": _number(top.peaks[row, rank]),
    }
    if len(layer.shape) == 2:
        y, x = divmod(int(top.where[row, rank]), layer.shape[1])
        record.update(y=y, x=x)
        if layer.field is not None:
            record["box"] = list(layer.field.box(y, x, *size))
    record["crop"] = crop
    return record


def _number(value: torch.Tensor) -> float | None:
    """A JSON number (6 significant digits), or ``None`` for a value that is not finite."""
    number = float(value)
    return float(f"{number:.6g}") if math.isfinite(number) else None


def _write_crops(result: dict, output: Path, size: tuple[int, int]) -> None:
    """Cut every kept example's crop, reading each kept image once.

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
        picture = _read(root / result["images"][position])
        region = fit_box(picture.size, size) if picture is not None else None
        written: dict[tuple[int, ...], str] = {}
        for record in records:
            box = tuple(record.get("box") or (0, 0, width, height))
            if box == (0, 0, width, height):
                record["crop"] = f"examples/images/{position}.jpg"
            if picture is None or region is None:
                record["crop"] = None
            elif box in written:
                record["crop"] = written[box]
            else:
                _save_crop(picture, region, box, size, output / record["crop"])
                written[box] = record["crop"]


def _save_crop(
    picture: Image.Image,
    region: tuple[float, float, float, float],
    box: Sequence[int],
    size: tuple[int, int],
    path: Path,
) -> None:
    """Cut ``box`` (pixels at the atlas ``size``) out of the original ``picture``, of which ``region`` is what
    the network saw, and save it as a JPEG of :data:`CROP_SIDE` (a large photo is first reduced by a whole
    factor, as Pillow's ``reducing_gap`` does: much faster, and as sharp)."""
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


def _warn_skipped(skipped: list[Path], source: Path) -> None:
    names = ", ".join(repr(path.relative_to(source).as_posix()) for path in skipped[:_NAMED])
    more = f" and {len(skipped) - _NAMED} more" if len(skipped) > _NAMED else ""
    warnings.warn(
        f"skipped {len(skipped)} file(s) of {str(source)!r} that are not readable images: {names}{more}.", stacklevel=3
    )
