"""Planning an atlas: which layers and units of a model are dreamt, in which batches, and ``atlas.json``.

A layer's units are its channels (the mean of one channel of its output is what
a unit's dream maximises); the classifier's logits are the pseudo-layer
:data:`~dreamengine.atlas.folder.LOGITS`, whose units are the classes. By default an atlas holds every
stage output of the model (:func:`stage_layers`), the layer a classifier pools (whose units ``classes.json``
links to the classes) and, for a classifier, its logits.
Units of one layer are dreamt several at a time, one engine run per
:class:`Batch`; each unit's files live under ``units/<slug>/`` and
``thumbs/<slug>/`` of the output folder (:mod:`~dreamengine.atlas.folder` spells every path), the slug made by
:func:`atlas_slugs`.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dreamengine.atlas.classes import pooled_layer
from dreamengine.atlas.defaults import DEFAULT_BATCH, DEFAULT_SIDE
from dreamengine.atlas.folder import LOGITS, PLAN, VERSION, AtlasLayer, atlas_folder
from dreamengine.engine.layers import Layer, model_layers
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError, unknown_name
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import dream_size

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_SIDE",
    "Batch",
    "AtlasPlan",
    "stage_layers",
    "select_layers",
    "parse_units",
    "atlas_slug",
    "atlas_slugs",
    "plan_atlas",
]

#: The settings a unit's own dream sets itself (its objective and class; its variants, their start), or that are
#: about a run's files: not the atlas's to share.
PER_UNIT = ("objective", "classes", "output", "side_by_side", "attribution", "save_every")


@dataclass(frozen=True)
class Batch:
    """Units of one layer dreamt in one engine run (a task of an executor)."""

    layer: AtlasLayer
    units: tuple[int, ...]


@dataclass
class AtlasPlan:
    """An atlas: the model, the settings every unit shares, its layers and units.

    Attributes:
        output: the atlas's folder.
        base: the run settings every unit's dream starts from (its size fixed to :attr:`size`).
        size: ``(height, width)`` of every dream (``atlas.json`` keeps it in this order, as the site reads it).
        variants: diverse dreams of each unit besides its own (``--variants``).
        layers: the layers, in forward order, the logits last.
        classes: the model's class names, or ``None`` when it has none.
        batch: units of one layer per engine run.
        diversity_layer: the feature layer the logits' variants are kept apart at (the deepest stage).
        model: the name of the model the atlas shows (a checkpoint's architecture, not the ``--model`` setting).
        weights: the weights file it was loaded from, ``{"file": NAME, "sha256": HEX}``, if any.
    """

    output: Path
    base: RunConfig
    size: tuple[int, int]
    variants: int
    layers: list[AtlasLayer]
    classes: list[str] | None
    batch: int = DEFAULT_BATCH
    diversity_layer: str | None = None
    model: str = ""
    weights: dict[str, str] | None = None

    def settings(self) -> dict[str, Any]:
        """The run settings every unit shares, as stored in each dream's manifest (less those each unit sets)."""
        return {key: value for key, value in self.base.to_dict().items() if key not in PER_UNIT}

    def layer(self, name: str) -> AtlasLayer:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise unknown_name("layer of this atlas", name, [layer.name for layer in self.layers])

    def batches(self, todo: Mapping[str, Sequence[int]]) -> list[Batch]:
        """``todo``'s units (by layer name) in batches of at most :attr:`batch` units of one layer, in order."""
        found = []
        for layer in self.layers:
            units = list(todo.get(layer.name, ()))
            found += [Batch(layer, tuple(units[i : i + self.batch])) for i in range(0, len(units), self.batch)]
        return found

    def unit_count(self) -> int:
        """How many units the atlas holds."""
        return sum(len(layer.units) for layer in self.layers)

    def to_json(self) -> dict[str, Any]:
        """``atlas.json``'s content."""
        return {
            "version": VERSION,
            "model": self.model or self.base.model,
            "weights": self.weights,
            "checkpoint": self.base.checkpoint,
            "pretrained": self.base.pretrained,
            "settings": self.settings(),
            "size": list(self.size),
            "variants": self.variants,
            "diversity_layer": self.diversity_layer,
            "layers": [layer.to_json() for layer in self.layers],
            "classes": self.classes,
        }

    def write(self) -> Path:
        """Write ``atlas.json`` atomically; returns its path."""
        text = json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n"
        return atlas_folder(self.output).write_bytes(PLAN, text.encode())


def stage_layers(model: DreamModel, listed: Sequence[Layer]) -> list[Layer]:
    """The stage outputs among ``listed`` (``dreamengine layers``'s default list of ``model``), in forward order.

    A timm network names its stages itself (``feature_info``: ``blocks.1``, ``layer2``): those, each widened to
    every stage of its container (EfficientNet's ``blocks.3`` and ``blocks.5`` too, which timm leaves out as
    they keep the resolution), then the last feature map the classifier pools (``bn2``, timm's
    ``num_features`` channels) unless a stage holds it. Any other network: the last layer of each run of listed
    layers with one feature-map shape (the output of each block of equal shape), leaving out containers of
    numbered blocks.
    """
    maps = [layer for layer in listed if _is_map(layer)]
    info = getattr(model.net, "feature_info", None)
    names = [entry["module"] for entry in info] if isinstance(info, list) and info else None
    if names is None:
        return _last_of_each_shape([layer for layer in maps if not _numbered_container(model, layer.name)])
    modules = dict(model.net.named_modules())
    wanted = set()
    for name in names:
        parent, _, _ = name.rpartition(".")
        container = modules.get(parent) if parent else None
        siblings = (
            [f"{parent}.{child}" for child, _ in container.named_children()]
            if isinstance(container, nn.Sequential | nn.ModuleList)
            else [name]
        )
        wanted.update(siblings)
    stages = [layer for layer in maps if layer.name in wanted]
    head = _head_features(model, maps)
    if head is not None and not any(_holds(layer.name, head.name) for layer in stages):
        stages.append(head)
    return stages


def _holds(outer: str, inner: str) -> bool:
    """Whether the module ``outer`` is ``inner`` or holds it (ResNet's ``layer4`` holds ``layer4.0``, whose output,
    the last block's, is its own)."""
    return inner == outer or inner.startswith(f"{outer}.")


def _is_map(layer: Layer) -> bool:
    """Whether ``layer`` runs and gives a feature map (or tokens): channels at more than one position."""
    shape = layer.shape
    return bool(layer.cost) and shape is not None and len(shape) >= 2 and math.prod(shape[1:]) > 1


def _numbered_container(model: DreamModel, name: str) -> bool:
    """Whether ``name`` holds numbered blocks (``blocks``: ``blocks.0``, ``blocks.1``): its output is its last's."""
    module = model.layer(name)
    return isinstance(module, nn.Sequential | nn.ModuleList) and any(
        child.isdigit() for child, _ in module.named_children()
    )


def _last_of_each_shape(layers: Sequence[Layer]) -> list[Layer]:
    kept: list[Layer] = []
    for layer in layers:
        if kept and kept[-1].shape == layer.shape:
            kept[-1] = layer
        else:
            kept.append(layer)
    return kept


def _head_features(model: DreamModel, maps: Sequence[Layer]) -> Layer | None:
    """The last feature map with the channels the classifier pools (timm's ``num_features``), if any."""
    channels = getattr(model.net, "num_features", None)
    found = [
        layer
        for layer in maps
        if layer.shape is not None and layer.shape[0] == channels and not _numbered_container(model, layer.name)
    ]
    return found[-1] if found else None


def select_layers(model: DreamModel, patterns: Sequence[str] = ()) -> tuple[list[Layer], bool]:
    """The layers ``patterns`` name (shell wildcards, as ``dreamengine layers`` takes them; :data:`LOGITS` names
    the logits), in forward order, and whether the logits are among them; no pattern: every stage output, the
    layer the classifier pools, and, for a classifier, the logits. A pattern that matches nothing is an error."""
    listed = model_layers(model)
    classifier = _is_classifier(model)
    if not patterns:
        return _with_class_layer(model, stage_layers(model, listed)), classifier
    every = model_layers(model, "*")
    chosen: dict[str, Layer] = {}
    logits = False
    for pattern in patterns:
        matched = [layer for layer in every if fnmatch.fnmatchcase(layer.name, pattern)]
        if fnmatch.fnmatchcase(LOGITS, pattern) and classifier:
            logits = True
        elif not matched:
            names = [layer.name for layer in listed] + ([LOGITS] if classifier else [])
            raise DreamError(
                f"--layer {pattern!r} matches no layer of {model.name}: {unknown_name('layer', pattern, names)} "
                "`dreamengine layers` lists them."
            )
        for layer in matched:
            _check_dreamable(layer, model.name)
            chosen.setdefault(layer.name, layer)
    order = {layer.name: position for position, layer in enumerate(every)}
    return sorted(chosen.values(), key=lambda layer: order[layer.name]), logits


def _with_class_layer(model: DreamModel, stages: list[Layer]) -> list[Layer]:
    """``stages`` and, if they lack it, the layer whose pooled output feeds the classifier (the one
    ``classes.json`` links to the classes: :func:`~dreamengine.atlas.classes.pooled_layer`), in forward order."""
    found = pooled_layer(model)
    if found is None or any(layer.name == found[0] for layer in stages):
        return stages
    every = model_layers(model, "*")
    order = {layer.name: position for position, layer in enumerate(every)}
    added = [layer for layer in every if layer.name == found[0]]
    return sorted([*stages, *added], key=lambda layer: order.get(layer.name, len(order)))


def _check_dreamable(layer: Layer, model: str) -> None:
    if not re.fullmatch(r"[\w.-]+", layer.name):
        raise DreamError(
            f"layer {layer.name!r} of {model} has a name an objective cannot carry (only letters, digits, "
            "'.', '_' and '-'): the atlas dreams it as layer:NAME:UNIT."
        )
    if layer.cost is None:
        raise DreamError(f"layer {layer.name!r} of {model} does not run in a forward: it has no units to dream.")
    if layer.shape is None or len(layer.shape) < 1:
        raise DreamError(f"layer {layer.name!r} of {model} does not give one tensor: it has no channels to dream.")


def _is_classifier(model: DreamModel) -> bool:
    try:
        return model.has_logits and model.num_classes > 0
    except DreamError:
        return False


def parse_units(spec: str, count: int, layer: str) -> list[int]:
    """The units ``--units`` picks of a layer with ``count`` of them: ``all``, ``N`` (the first N) or ``A-B``
    (A to B, both included); a unit past the layer's last is an error naming how many it has."""
    text = spec.strip().lower()
    first = re.fullmatch(r"\d+", text)
    span = re.fullmatch(r"(\d+)\s*-\s*(\d+)", text)
    if text == "all":
        return list(range(count))
    if first:
        wanted = int(text)
        if wanted < 1:
            raise DreamError(f"--units {spec} picks no unit: give N >= 1, a range A-B, or all.")
        return list(range(min(wanted, count)))
    if span:
        low, high = int(span.group(1)), int(span.group(2))
        if low > high:
            raise DreamError(f"--units {spec}: the range runs backwards; write it low-high, as in {high}-{low}.")
        if high >= count:
            raise DreamError(
                f"--units {spec}: layer {layer!r} has {count} units (0-{count - 1}); there is no unit {high}."
            )
        return list(range(low, high + 1))
    raise DreamError(f"--units must be all, N (the first N units of each layer) or A-B (a range); got {spec!r}.")


def atlas_slug(name: str) -> str:
    """A file-safe folder name for layer ``name``: its letters, digits, dots, dashes and underscores, anything
    else as ``-``; never empty, hidden or ``..``."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return text or "layer"


def atlas_slugs(names: Sequence[str]) -> dict[str, str]:
    """Each layer's :func:`atlas_slug`, made unique (``-2``, ``-3``, ... after a slug already taken) and unlike
    another's in case alone (case-insensitive file systems)."""
    taken: set[str] = set()
    slugs = {}
    for name in names:
        base = atlas_slug(name)
        candidate, number = base, 1
        while candidate.lower() in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate.lower())
        slugs[name] = candidate
    return slugs


def plan_atlas(
    model: DreamModel,
    base: RunConfig,
    output: str | Path,
    *,
    layers: Sequence[str] = (),
    units: str = "all",
    batch: int | None = None,
    variants: int = 0,
) -> AtlasPlan:
    """Plan the atlas of ``model`` (the one ``base`` names) into ``output``: the layers ``layers`` names
    (:func:`select_layers`), the units ``units`` picks of each (:func:`parse_units`), dreamt ``batch`` at a time
    with ``variants`` diverse dreams each, every dream at ``base``'s size (unset: the model's input size, its longer
    side at most :data:`DEFAULT_SIDE`)."""
    if batch is not None and batch < 1:
        raise DreamError(f"--batch must be at least 1, got {batch}.")
    if variants < 0:
        raise DreamError(f"--variants must be 0 or more, got {variants}.")
    shrink = min(1.0, DEFAULT_SIDE / max(model.input_size))
    height, width = dream_size(
        base.size, (round(model.input_size[0] * shrink), round(model.input_size[1] * shrink)), None
    )
    base = base.updated({"size": (height, width)}, "the atlas")
    base = base.updated({key: getattr(RunConfig(), key) for key in PER_UNIT}, "the atlas")
    chosen, logits = select_layers(model, layers)
    names = [layer.name for layer in chosen] + ([LOGITS] if logits else [])
    slugs = atlas_slugs(names)
    shapes = _shapes_at(model, [layer.name for layer in chosen], height, width)
    planned = [
        AtlasLayer(
            layer.name,
            slugs[layer.name],
            "features",
            shapes[layer.name],
            tuple(parse_units(units, shapes[layer.name][0], layer.name)),
            float(layer.cost or 0.0),
        )
        for layer in chosen
    ]
    if logits:
        count = model.num_classes
        planned.append(
            AtlasLayer(LOGITS, slugs[LOGITS], "logits", (count,), tuple(parse_units(units, count, LOGITS)), 1.0)
        )
    if not planned:
        raise DreamError(
            f"no layer of {model.name} to dream: name some with --layer (`dreamengine layers` lists them)."
        )
    stages = stage_layers(model, model_layers(model))
    return AtlasPlan(
        Path(output),
        base,
        (height, width),
        variants,
        planned,
        list(model.class_names) or None,
        batch or DEFAULT_BATCH,
        stages[-1].name if stages else None,
        model.name,
        model.weights.to_json() if model.weights is not None else None,
    )


def _shapes_at(model: DreamModel, names: Sequence[str], height: int, width: int) -> dict[str, tuple[int, ...]]:
    """Each named layer's output shape for one gray image of the atlas size (without the batch)."""
    model.eval()
    with torch.no_grad(), model.capture(names) as seen:
        model(torch.full((1, 3, height, width), 0.5, device=model.mean.device))
    return {name: tuple(seen[name].shape[1:]) for name in names}
