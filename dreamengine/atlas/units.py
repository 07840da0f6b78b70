"""Dreaming an atlas's units: a batch of units of one layer in one engine run, their variants, thumbnails and records.

A batch of features units is one run of objectives dreamed side by side
(``layer:blocks.3:0; layer:blocks.3:1; ...``: item ``i`` maximises the mean of
its own channel, and the forward stops at the layer); a batch of logits units is
one run of the ``logit`` objective with one ``--class`` per unit. Each dream is
written as ``dreamengine run`` writes it, with the settings of its whole batch
in its manifest, so ``dreamengine run --from units/blocks.3/7.png`` dreams the
same batch again and makes the same picture (a batch item's bytes may depend on
the batch it was dreamt in: convolution kernels sum in another order for
another batch size). A unit's ``K`` variants are one more run: its objective
plus the ``diversity`` term, ``K`` items from a noise start.

:func:`dream_batch` is a pure function from settings to bytes, so any executor
runs it; :func:`write_batch` writes its files in the atlas folder, each unit's
record last: a unit is done (:func:`unit_done`) once its record is there and
its dream holds the atlas's settings.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from PIL import Image

from dreamengine.atlas.folder import (
    JPEG_QUALITY,
    THUMB_SIDE,
    AtlasLayer,
    atlas_folder,
    dream_path,
    record_path,
    thumb_path,
    variant_path,
)
from dreamengine.atlas.plan import AtlasPlan, Batch
from dreamengine.components import DreamResult
from dreamengine.engine.classes import display_name, name_for
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.options import ComponentSpec
from dreamengine.plugins import PluginHost
from dreamengine.run.batch import run_items
from dreamengine.run.config import RunConfig
from dreamengine.run.execute import run_through_hooks
from dreamengine.run.expression_syntax import ObjectiveSpec, Term
from dreamengine.run.imaging import png_bytes, read_manifest, to_pil, to_tensor
from dreamengine.run.observers import run_ended
from dreamengine.run.outputs import manifest
from dreamengine.run.prepare import build_job, dream_model, resolve_device

__all__ = [
    "DIVERSITY",
    "RunOutput",
    "BatchOutput",
    "unit_config",
    "variants_config",
    "dream_batch",
    "write_batch",
    "unit_done",
    "same_settings",
    "unit_paths",
]

#: The weight of the ``diversity`` term in a unit's variants: minus the variants' mean Gram similarity (at most 1)
#: against the unit's mean activation (a few units on a trained network).
DIVERSITY = 1.0


def unit_config(plan: AtlasPlan, layer: AtlasLayer, units: Sequence[int]) -> RunConfig:
    """The run settings of one batch: ``units`` of ``layer`` dreamt side by side, one per item (its objective built
    from terms; the settings keep its text, ``layer:L:0; layer:L:1; ...``, as a picture stores it)."""
    if layer.kind == "logits":
        logit = ObjectiveSpec.side_by_side([_term("logit")])
        return plan.base.updated({"objective": logit, "classes": _class_names(plan, units)}, "the atlas")
    objective = ObjectiveSpec.side_by_side(*([_term("layer", layer.name, str(unit))] for unit in units))
    return plan.base.updated({"objective": objective}, "the atlas")


def variants_config(plan: AtlasPlan, layer: AtlasLayer, unit: int) -> RunConfig:
    """The run settings of ``unit``'s variants: its objective and the ``diversity`` term, one item per variant,
    from a noise start (dreams that start alike would stay alike)."""
    if layer.kind == "logits":
        if plan.diversity_layer is None:
            raise DreamError("the logits' variants need a feature layer to keep them apart, and this model has none.")
        own, apart, classes = _term("logit"), plan.diversity_layer, _class_names(plan, [unit])
    else:
        own, apart, classes = _term("layer", layer.name, str(unit)), layer.name, [str(unit)]
    objective = ObjectiveSpec.side_by_side([own, _term("diversity", apart, weight=DIVERSITY)])
    return plan.base.updated({"objective": objective, "classes": classes * plan.variants, "init": "noise"}, "the atlas")


def _term(name: str, *positional: str, weight: float = 1.0) -> Term:
    """A term of an objective: ``weight`` times the component ``name`` with its ``positional`` options."""
    return Term(weight, ComponentSpec(name, MappingProxyType({}), positional))


def _class_names(plan: AtlasPlan, units: Sequence[int]) -> list[str]:
    """What to call each class so that ``--class`` finds it again (a class folder named ``7`` is not class 7)."""
    return [name_for(plan.classes or [], unit) for unit in units]


@dataclass
class RunOutput:
    """One engine run of an atlas: its settings, its result, and each item's PNG bytes (manifest included)."""

    config: RunConfig
    result: DreamResult
    pngs: list[bytes]


@dataclass
class BatchOutput:
    """A dreamt batch: the run of its units, each unit's variants' run (if any), thumbnails and activations."""

    batch: Batch
    units: RunOutput
    variants: list[RunOutput]
    thumbs: list[bytes]
    activations: list[float]


def dream_batch(
    host: PluginHost,
    plan: AtlasPlan,
    batch: Batch,
    model: DreamModel,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    local: Callable[[RunConfig], RunConfig] | None = None,
) -> BatchOutput:
    """Dream ``batch`` (and its units' variants) with ``model``, the one ``plan`` names; writes nothing.

    ``local``, if given, turns each run's settings into those it is dreamt with here (a Ray worker's, naming its
    copies of the driver's files); the manifests keep the settings as given.
    """
    units = _dream(host, unit_config(plan, batch.layer, batch.units), model, on_step, local)
    variants = (
        [_dream(host, variants_config(plan, batch.layer, unit), model, on_step, local) for unit in batch.units]
        if plan.variants
        else []
    )
    pictures = [Image.open(io.BytesIO(data)).convert("RGB") for data in units.pngs]
    return BatchOutput(
        batch, units, variants, [_thumb(p) for p in pictures], _activations(model, batch, pictures, units.config)
    )


def _dream(
    host: PluginHost,
    config: RunConfig,
    model: DreamModel,
    on_step: Callable[[int, torch.Tensor], None] | None,
    local: Callable[[RunConfig], RunConfig] | None,
) -> RunOutput:
    """One run of ``config`` (dreamt as ``local`` makes it) through the hooks, as ``dreamengine run`` makes it,
    encoded as PNGs."""
    job, indices = build_job(host, local(config) if local else config, model, resolve_device(config.device))
    job.on_step = on_step
    result = run_through_hooks(host, job)
    pngs = []
    for item, (index, entry) in enumerate(zip(indices, run_items(config, job.objective), strict=True)):
        if entry.objective.uses_classes:
            meta = manifest(config, dream_model(job), result, item, index, display_name(job.model.class_names, index))
        else:
            meta = manifest(config, dream_model(job), result, item, None, entry.objective_text, entry.objective_text)
        pngs.append(png_bytes(to_pil(result.image[item]), meta))
    return RunOutput(config, result, pngs)


def _thumb(picture: Image.Image) -> bytes:
    """A :data:`~dreamengine.atlas.folder.THUMB_SIDE` pixel JPEG of ``picture`` (its longer side, for a dream that
    is not square), made smaller or larger: every cell of a layer's grid the same size."""
    scale = THUMB_SIDE / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    small = picture.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _activations(model: DreamModel, batch: Batch, pictures: Sequence[Image.Image], config: RunConfig) -> list[float]:
    """Each saved dream's mean activation of its own unit: one forward of the 8-bit pictures, in eval mode."""
    images = torch.stack([to_tensor(picture) for picture in pictures]).to(resolve_device(config.device))
    model.eval()
    with torch.no_grad():
        if batch.layer.kind == "logits":
            values = model(images)
        else:
            with model.capture([batch.layer.name], stop_early=True) as seen:
                model(images)
            seen_there = seen[batch.layer.name]  # (batch, units, positions...), or (batch, units): one position
            values = seen_there.flatten(2).mean(2) if seen_there.dim() > 2 else seen_there
    return [float(values[item, unit]) for item, unit in enumerate(batch.units)]


def unit_paths(plan: AtlasPlan, layer: AtlasLayer, unit: int) -> dict[str, Any]:
    """Where ``unit``'s files go, relative to the atlas folder with ``/``: its dream, thumbnail, variants and record."""
    return {
        "dream": dream_path(layer.slug, unit),
        "thumb": thumb_path(layer.slug, unit),
        "variants": [variant_path(layer.slug, unit, k) for k in range(1, plan.variants + 1)],
        "record": record_path(layer.slug, unit),
    }


def write_batch(host: PluginHost, plan: AtlasPlan, output: BatchOutput) -> list[Path]:
    """Write a dreamt batch's files into the atlas folder, atomically, each unit's record last (with each file's
    size and SHA-256, which a resume checks); then call the ``dreamengine_run_end`` hook for each of its runs with
    the files it made. Returns the records written."""
    records, written = [], []
    batch, folder = output.batch, atlas_folder(plan.output)
    for item, unit in enumerate(batch.units):
        paths = unit_paths(plan, batch.layer, unit)
        variants = output.variants[item].pngs if output.variants else []
        files = dict(zip((paths["dream"], *paths["variants"]), (output.units.pngs[item], *variants), strict=True))
        files[paths["thumb"]] = output.thumbs[item]
        for path, data in files.items():  # one its record found damaged is made again
            folder.write_bytes(path, data, replace_changed=True)
        record = {
            "layer": batch.layer.name,
            "unit": unit,
            "dream": paths["dream"],
            "thumb": paths["thumb"],
            "variants": paths["variants"],
            "activation": output.activations[item],
            "files": {path: _fingerprint(data) for path, data in files.items()},
        }
        text = json.dumps(record, ensure_ascii=False) + "\n"
        records.append(folder.write_bytes(paths["record"], text.encode(), replace_changed=True))
        written.append([plan.output / path for path in (paths["dream"], *paths["variants"])])
    run_ended(host, output.units.config, output.units.result, [made[0] for made in written])
    for run, made in zip(output.variants, written, strict=False):
        run_ended(host, run.config, run.result, made[1:])
    return records


def _fingerprint(data: bytes) -> dict[str, Any]:
    """A file's size and SHA-256, as a unit's record keeps them."""
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def unit_done(plan: AtlasPlan, layer: AtlasLayer, unit: int) -> bool:
    """Whether ``unit`` is in the atlas folder with the atlas's settings: its record, every file it names with the
    size and checksum the record gives (a file damaged or replaced since is made again), and a dream made with
    these settings (a record is written last, so a unit whose writing stopped half-way is not)."""
    paths = unit_paths(plan, layer, unit)
    try:
        record = json.loads((plan.output / paths["record"]).read_text(encoding="utf-8"))
        stored = read_manifest(plan.output / paths["dream"]).get("config")
    except (OSError, ValueError, DreamError):
        return False
    expected = {"layer": layer.name, "unit": unit, "variants": paths["variants"]}
    if not isinstance(record, dict) or any(record.get(key) != value for key, value in expected.items()):
        return False
    files = record.get("files")
    names = (paths["dream"], *paths["variants"], paths["thumb"])
    if not isinstance(files, dict) or sorted(files) != sorted(names):
        return False
    if not all(_intact(plan.output / path, files[path]) for path in names):
        return False
    return isinstance(stored, dict) and same_settings(stored, plan.settings())


def _intact(path: Path, expected: Any) -> bool:
    """Whether the file at ``path`` has the size and checksum ``expected`` (:func:`_fingerprint`) gives."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return expected == _fingerprint(data)


def same_settings(stored: dict[str, Any], settings: dict[str, Any]) -> bool:
    """Whether a dream's stored settings are the atlas's ``settings`` (the thread count aside: it is the machine's)."""
    keys = [key for key in settings if key != "threads"]
    return json.loads(json.dumps([stored.get(key) for key in keys])) == json.loads(
        json.dumps([settings[key] for key in keys])
    )
