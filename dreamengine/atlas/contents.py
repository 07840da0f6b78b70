"""The atlas folder's contents as the site reads them: what its pages and a unit's panels see.

:func:`read_atlas` reads ``atlas.json`` (the plan, through :func:`~dreamengine.atlas.folder.read_atlas_json`),
each unit's record ``units/<layer-slug>/<unit>.json``, and ``examples.json`` and ``classes.json`` when they are
there, into an :class:`Atlas` of :class:`~dreamengine.atlas.folder.AtlasLayer` and :class:`AtlasUnit` values
(:mod:`~dreamengine.atlas.folder` spells every path). A :class:`dreamengine.Panel` renders one unit with them.
Every path in them is relative to the atlas folder, with ``/``; a path in a record that leaves the folder is
dropped, never linked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from dreamengine.atlas.check import unit_check
from dreamengine.atlas.folder import (
    CLASS_INDEX,
    CLASSES,
    EXAMPLES,
    PLAN,
    AtlasLayer,
    class_page_path,
    read_atlas_json,
    record_path,
    unit_page_path,
)
from dreamengine.errors import DreamError
from dreamengine.run.pages import relative_url

__all__ = ["Atlas", "AtlasClass", "AtlasUnit", "Example", "read_atlas"]


@dataclass(frozen=True)
class Example:
    """One dataset image that drives a unit: its name in the dataset, its activation, and its crop.

    ``peak`` is the largest value of the unit's map, at cell ``(y, x)`` of the layer's map; ``box`` is the crop in the
    image's pixels at the atlas size, ``(left, top, right, bottom)``; both are ``None`` for the logits.
    """

    image: str
    activation: float
    crop: str | None
    peak: float | None = None
    y: int | None = None
    x: int | None = None
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class AtlasClass:
    """A class of a classifier: its index, its name, the units of the last feature layer that feed it most, and
    whether the atlas shows anything of it (its dream, or a dream of a unit that feeds it): only then has it a page
    of its own, and a small atlas of a 1000-class model writes no 1000 empty pages."""

    index: int
    name: str
    units: tuple[tuple[int, float], ...] = ()
    shown: bool = True

    @property
    def page(self) -> str:
        """The class's page, relative to the atlas folder: its index, then its name made file-safe; the classes'
        index, which lists it, for a class the atlas shows nothing of."""
        return class_page_path(self.index, self.name) if self.shown else CLASS_INDEX


@dataclass(frozen=True)
class AtlasUnit:
    """One unit of a layer: its dream (``None`` until it is dreamt), variants, dataset examples and classes.

    ``classes`` holds the classes its weights support most, as ``(class index, weight)``, for a unit of the layer
    that feeds the classifier.
    """

    layer: AtlasLayer
    unit: int
    dream: str | None = None
    thumb: str | None = None
    variants: tuple[str, ...] = ()
    activation: float | None = None
    examples: tuple[Example, ...] = ()
    negatives: tuple[Example, ...] = ()
    classes: tuple[tuple[int, float], ...] = ()

    @property
    def page(self) -> str:
        """The unit's page, relative to the atlas folder."""
        return unit_page_path(self.layer.slug, self.unit)

    @property
    def check(self) -> dict[str, Any]:
        """The unit's measured check (:func:`~dreamengine.atlas.check.unit_check`): ``best`` (the best dataset
        example's activation), ``ratio`` (the dream's activation over it, when it is positive) and ``passed``
        (whether the dream drives the unit at least as hard; ``None`` without both)."""
        return unit_check(self.activation, [{"activation": example.activation} for example in self.examples])

    @property
    def activating(self) -> tuple[Example, ...]:
        """The dataset examples that turn the unit on (a mean activation above 0), most first: the ones worth
        showing, where :attr:`examples` also holds the images a rectified unit ignores (activation 0)."""
        return tuple(example for example in self.examples if example.activation > 0)

    @property
    def opposing(self) -> tuple[Example, ...]:
        """The most negative examples that drive the unit below 0, most negative first: none where the unit's
        quantity cannot be negative (after a ReLU), so that no image stands in both lists."""
        return tuple(example for example in self.negatives if example.activation < 0)

    def url(self, path: str) -> str:
        """The link from this unit's page to ``path`` (relative to the atlas folder), percent-encoded."""
        return relative_url(path, self.page)


@dataclass(frozen=True)
class Atlas:
    """An atlas folder, read: the model, the dream size ``(height, width)``, layers, units and classes."""

    folder: Path
    model: str
    size: tuple[int, int]
    layers: tuple[AtlasLayer, ...]
    units: dict[tuple[str, int], AtlasUnit]
    classes: tuple[AtlasClass, ...] = ()
    #: the layer whose units ``classes.json`` links to the classes, if any
    class_layer: str | None = None
    #: ``atlas.json`` as read: the checkpoint, whether the weights are pretrained, the dreams' settings, ...
    plan: Mapping[str, Any] = field(default_factory=dict)

    def layer_units(self, layer: AtlasLayer) -> list[AtlasUnit]:
        """The units of ``layer``, in the plan's order."""
        return [self.units[layer.slug, unit] for unit in layer.units]

    def unit(self, layer_name: str, unit: int) -> AtlasUnit | None:
        """Unit ``unit`` of the layer named ``layer_name``, if the atlas has it."""
        layer = next((layer for layer in self.layers if layer.name == layer_name), None)
        return self.units.get((layer.slug, unit)) if layer else None

    def class_dream(self, index: int) -> AtlasUnit | None:
        """The unit of the logits that dreams class ``index``, if the atlas has it."""
        logits = next((layer for layer in self.layers if layer.kind == "logits"), None)
        return self.units.get((logits.slug, index)) if logits else None

    def class_of(self, index: int) -> AtlasClass | None:
        """The class of index ``index``, if the model has names for its classes."""
        return self.classes[index] if 0 <= index < len(self.classes) else None

    def neighbours(self, unit: AtlasUnit) -> tuple[AtlasUnit | None, AtlasUnit | None]:
        """The units before and after ``unit`` in its layer."""
        units = unit.layer.units
        place = units.index(unit.unit)
        before = self.units[unit.layer.slug, units[place - 1]] if place > 0 else None
        after = self.units[unit.layer.slug, units[place + 1]] if place + 1 < len(units) else None
        return before, after


def read_atlas(folder: Path) -> Atlas:
    """Read the atlas in ``folder``: ``atlas.json``, every unit's record there is, and the examples and classes."""
    folder = Path(folder)
    plan = read_atlas_json(folder)
    if plan is None:
        raise DreamError(f"{str(folder)!r} holds no {PLAN}: build the atlas there first (dreamengine atlas).")
    try:
        layers = tuple(AtlasLayer.from_json(record) for record in plan["layers"])
        height, width = plan.get("size") or (0, 0)
    except (KeyError, TypeError, ValueError) as error:
        raise DreamError(f"{str(folder / PLAN)!r} is not an atlas plan: {error!r}.") from None
    examples = _read_json(folder / EXAMPLES) or {}
    links = _read_json(folder / CLASSES) or {}
    supported = {int(unit): tuple(_pairs(pairs)) for unit, pairs in (links.get("units") or {}).items()}
    feeders = {int(c["index"]): tuple(_pairs(c.get("units", ()))) for c in links.get("classes") or ()}
    classes = tuple(AtlasClass(i, str(name), feeders.get(i, ())) for i, name in enumerate(plan.get("classes") or ()))
    units = {}
    for layer in layers:
        found = _for_layer(examples.get("layers"), layer)
        negative = _for_layer(examples.get("negative"), layer)
        images = examples.get("images") or []
        for unit in layer.units:
            record = _read_json(folder / record_path(layer.slug, unit)) or {}
            units[layer.slug, unit] = AtlasUnit(
                layer,
                unit,
                dream=_inside(record.get("dream")),
                thumb=_inside(record.get("thumb")),
                variants=tuple(v for v in map(_inside, record.get("variants") or ()) if v),
                activation=_number(record.get("activation")),
                examples=tuple(_example(e, images) for e in found.get(str(unit), ())),
                negatives=tuple(_example(e, images) for e in negative.get(str(unit), ())),
                classes=supported.get(unit, ()) if layer.name == links.get("layer") else (),
            )
    size = (int(height), int(width))
    atlas = Atlas(folder, str(plan.get("model")), size, layers, units, classes, links.get("layer"), plan)
    return replace(atlas, classes=tuple(replace(found, shown=_shows(atlas, found)) for found in classes))


def _shows(atlas: Atlas, found: AtlasClass) -> bool:
    """Whether ``atlas`` holds a dream of the class ``found``, or of a unit that feeds it."""
    dream = atlas.class_dream(found.index)
    if dream is not None and dream.dream:
        return True
    feeding = (atlas.unit(atlas.class_layer, number) for number, _ in found.units) if atlas.class_layer else ()
    return any(unit is not None and unit.dream for unit in feeding)


def _read_json(path: Path) -> Any:
    """The JSON in ``path``, or ``None`` when there is no such file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise DreamError(f"cannot read {str(path)!r}: {error}.") from None


def _for_layer(by_layer: dict | None, layer: AtlasLayer) -> dict:
    """A layer's entry of examples.json, keyed by the layer's name (or its slug)."""
    by_layer = by_layer or {}
    return by_layer.get(layer.name) or by_layer.get(layer.slug) or {}


def _example(record: dict, images: list) -> Example:
    index = record.get("image")
    name = images[index] if isinstance(index, int) and 0 <= index < len(images) else str(index)
    return Example(
        image=str(name),
        activation=_number(record.get("activation")) or 0.0,
        crop=_inside(record.get("crop")),
        peak=_number(record.get("peak")),
        y=record.get("y"),
        x=record.get("x"),
        box=_box(record.get("box")),
    )


def _box(box: Any) -> tuple[int, int, int, int] | None:
    if not isinstance(box, list) or len(box) != 4:
        return None
    left, top, right, bottom = map(int, box)
    return left, top, right, bottom


def _pairs(pairs) -> list[tuple[int, float]]:
    return [(int(index), float(weight)) for index, weight in pairs]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _inside(path: Any) -> str | None:
    """``path`` when it is a relative path inside the atlas folder, else ``None``."""
    if not isinstance(path, str) or not path:
        return None
    pure = PurePosixPath(path)
    return None if pure.is_absolute() or ".." in pure.parts or "\\" in path or ":" in pure.parts[0] else path
