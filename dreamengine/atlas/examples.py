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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dreamengine.atlas.crops import write_crops
from dreamengine.atlas.defaults import DEFAULT_EXAMPLES
from dreamengine.atlas.folder import EXAMPLES, LOGITS, atlas_folder, check_images_apart, crop_path, read_atlas_json
from dreamengine.atlas.images import chunks, decoded_batches, image_files
from dreamengine.atlas.receptive import ReceptiveField, receptive_field
from dreamengine.atlas.topk import TopK
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError

__all__ = ["collect_examples"]

#: The version of examples.json's format.
_VERSION = 1
#: Unreadable files named in the warning; the rest are counted.
_NAMED = 5

Progress = Callable[[int, int], None]


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
    k: int = DEFAULT_EXAMPLES,
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
        size: ``(height, width)`` the images are fitted to; default: the ``size`` of ``output/atlas.json`` (unless it
            is broken or of another version), else the model's input size.
    """
    if batch < 1:
        raise DreamError(f"the batch of images must be at least 1, got {batch}.")
    output = Path(output)
    check_images_apart(output, source)
    files = image_files(source)
    height, width = size or _atlas_size(output) or model.input_size
    fingerprint = _fingerprint(model, layers, files, (height, width), k, negatives)
    done = _done(output, fingerprint)
    if done is not None:
        if on_progress is not None:
            on_progress(len(files), len(files))
        return done
    training = model.training
    try:
        watched = [_watch(model, record, k, negatives, (height, width)) for record in layers]
        count, skipped = _stream(model, watched, files, (height, width), batch, on_progress)
    finally:
        model.train(training)
    if skipped:
        _warn_skipped(skipped, Path(source))
    if not count:
        raise DreamError(f"none of the {len(files)} files in {str(source)!r} is a readable image.")
    result = {**_result(watched, files, Path(source), k, count, skipped, (height, width)), "fingerprint": fingerprint}
    folder = atlas_folder(output)
    write_crops(result, folder, (height, width))
    folder.write_bytes(EXAMPLES, json.dumps(result, indent=1).encode())
    return result


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
        done = json.loads((output / EXAMPLES).read_text(encoding="utf-8"))
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
    """The ``size`` of the atlas's plan, if there is one it can read."""
    try:
        plan = read_atlas_json(output)
        if plan is None:
            return None
        height, width = plan["size"]
        return int(height), int(width)
    except (DreamError, ValueError, KeyError, TypeError):
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
    for chunk, (pictures, bad) in zip(chunks(files, batch), decoded_batches(files, size, batch), strict=True):
        skipped += bad
        if pictures:
            indices = torch.tensor([index for index, _ in pictures])
            _observe(model, watched, torch.stack([image for _, image in pictures]), indices)
            count += len(pictures)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(files))
    return count, skipped


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
    """The batch's mean activation, peak and peak cell of each of the layer's units, merged into what it keeps."""
    chosen = output[:, layer.units].float()
    layer.shape = tuple(chosen.shape[2:]) if chosen.dim() == 4 else ()
    cells = chosen.flatten(2) if chosen.dim() > 2 else chosen[:, :, None]
    mean = cells.mean(2).T
    high, high_at = cells.max(2)
    layer.best.update(mean.nan_to_num(-math.inf), indices, high.T, high_at.T)  # a NaN is never the best
    if layer.worst is not None:
        low, low_at = cells.min(2)
        layer.worst.update(mean.nan_to_num(math.inf), indices, low.T, low_at.T)


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
    """The kept examples of each unit of ``layer``, best first; ``tag`` marks the crops' names (``neg``)."""
    records = {}
    for row, unit in enumerate(layer.units):
        records[str(unit)] = [
            _record(layer, top, row, rank, number, size, crop_path(layer.slug, unit, tag, rank))
            for rank in range(top.values.shape[1])
        ]
    return records


def _record(
    layer: _Layer, top: TopK, row: int, rank: int, number: dict[int, int], size: tuple[int, int], crop: str
) -> dict:
    """The record of the example at ``rank`` of unit ``row``: its image, activation, peak and where (a map's
    cell and the receptive field's box about it), and its crop."""
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


def _warn_skipped(skipped: list[Path], source: Path) -> None:
    """One warning for the files that are not readable images, the first few named."""
    names = ", ".join(repr(path.relative_to(source).as_posix()) for path in skipped[:_NAMED])
    more = f" and {len(skipped) - _NAMED} more" if len(skipped) > _NAMED else ""
    warnings.warn(
        f"skipped {len(skipped)} file(s) of {str(source)!r} that are not readable images: {names}{more}.", stacklevel=3
    )
