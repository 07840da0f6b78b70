"""The atlas's pages as HTML: the index, a layer, a unit, the classes and a class, in the frame every page shares.

Each function gathers a page's values and renders its template (``templates/`` beside this module, through
:func:`~dreamengine.run.pages.render_page`): every name is escaped by the template (autoescape), every link goes
through :func:`~dreamengine.run.pages.relative_url` (the ``url`` filter) and is relative to the page. The one
markup put in as it is: the HTML a unit's panels return (:class:`dreamengine.Panel`, which escapes its names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from dreamengine.atlas.check import layer_summary, sort_key
from dreamengine.atlas.contents import Atlas, AtlasClass, AtlasUnit
from dreamengine.atlas.folder import CLASS_INDEX, INDEX, SCRIPT, STYLESHEET, AtlasLayer
from dreamengine.run.pages import render_page

__all__ = ["class_index_page", "class_page", "index_page", "layer_page", "unit_page", "check_summary", "unit_name"]

#: How many thumbnails the index shows of each layer.
STRIP = 12


def render(template: str, atlas: Atlas, page: str, title: str, **values: Any) -> str:
    """The page at ``page`` (its path in the atlas) from ``template``, in the frame.

    The frame takes ``crumbs`` (``(label, path)`` pairs) and the paths ``prev``, ``next`` and ``up`` (the arrow keys
    and ``u`` go there); they default to none. Every page gets the paths of the site's stylesheet, script and
    classes' index (:mod:`~dreamengine.atlas.folder` spells them).
    """
    frame: dict[str, Any] = {"crumbs": (), "prev": None, "next": None, "up": None}
    frame |= {"stylesheet": STYLESHEET, "script": SCRIPT, "class_index": CLASS_INDEX}
    return render_page(
        __package__, template, atlas=atlas, page=page, title=title, unit_name=unit_name, **(frame | values)
    )


def unit_name(atlas: Atlas, unit: AtlasUnit) -> str:
    """``unit 7`` or, for the logits, ``class 3: toucan``."""
    found = atlas.class_of(unit.unit) if unit.layer.kind == "logits" else None
    return f"class {unit.unit}: {found.name}" if found else f"unit {unit.unit}"


def check_summary(units: Sequence[AtlasUnit]) -> str:
    """``12 of 16 units checked at ≥ 1 (75 %)``: the share of units whose dream beats every dataset example."""
    summary = layer_summary(unit.check for unit in units)
    if not summary["checked"]:
        return "no check yet (it needs dreams and dataset examples)"
    passed, checked = summary["passed"], summary["checked"]
    return f"{passed} of {checked} units checked at ≥ 1 ({100 * summary['share']:.0f} %)"


def check_text(check: Mapping[str, Any]) -> str:
    """A unit's check in a few characters: its ratio (``1.25``), or ``pass``/``fail`` over a best example at or
    below 0 (no ratio), or ``""`` unchecked."""
    if check["ratio"] is not None:
        return f"{check['ratio']:.2f}"
    return {True: "pass", False: "fail", None: ""}[check["passed"]]


def _shape(layer: AtlasLayer) -> str:
    return "×".join(map(str, layer.shape))


def index_page(atlas: Atlas) -> str:
    """The atlas's front page: each layer with its unit count, its check and a strip of thumbnails."""
    layers = []
    for layer in atlas.layers:
        units = atlas.layer_units(layer)
        dreamt = sum(unit.dream is not None for unit in units)
        layers.append(
            {"layer": layer, "units": units, "dreamt": dreamt, "shape": _shape(layer), "summary": check_summary(units)}
            | {"strip": units[:STRIP]}
        )
    total = sum(len(layer.units) for layer in atlas.layers)
    title = f"Atlas of {atlas.model}"
    return render("index.html", atlas, INDEX, title, layers=layers, classes=len(atlas.classes), total=total)


def layer_page(atlas: Atlas, layer: AtlasLayer) -> str:
    """A layer: the grid of its units' thumbnails, sortable by unit and by the check, filtered by number or class."""
    units = atlas.layer_units(layer)
    checked = sorted((unit for unit in units if unit.check["passed"] is not None), key=lambda u: sort_key(u.check))
    rank = {unit.unit: place for place, unit in enumerate(checked, 1)}  # the weakest 1: sorting puts the largest first
    items = []
    for unit in units:
        label = unit_name(atlas, unit).removeprefix("unit ")
        caption = label + (f" · {text}" if (text := check_text(unit.check)) else "")
        failed = unit.check["passed"] is False
        items.append({"unit": unit, "label": label, "caption": caption, "rank": rank.get(unit.unit), "failed": failed})
    index = atlas.layers.index(layer)
    around = [atlas.layers[i].page if 0 <= i < len(atlas.layers) else None for i in (index - 1, index + 1)]
    return render(
        "layer.html",
        atlas,
        layer.page,
        layer.name,
        layer=layer,
        shape=_shape(layer),
        summary=check_summary(units),
        items=items,
        crumbs=[("atlas", INDEX)],
        prev=around[0],
        next=around[1],
        up=INDEX,
    )


def unit_page(atlas: Atlas, unit: AtlasUnit, sections: Sequence[tuple[str, str, str]]) -> str:
    """A unit's page: its panels' ``(name, title, html)`` sections in order, links to its layer and neighbours.

    Each section's ``html`` is what its panel returned, put in as it is (a panel's contract: it escapes its names).
    """
    before, after = atlas.neighbours(unit)
    return render(
        "unit.html",
        atlas,
        unit.page,
        f"{unit.layer.name} · {unit_name(atlas, unit)}",
        sections=[(name, title, Markup(text)) for name, title, text in sections],
        crumbs=[("atlas", INDEX), (unit.layer.name, unit.layer.page)],
        prev=before.page if before else None,
        next=after.page if after else None,
        up=unit.layer.page,
    )


def class_index_page(atlas: Atlas) -> str:
    """Every class by index, with a search by name."""
    crumbs = [("atlas", INDEX)]
    page = CLASS_INDEX
    return render("classes.html", atlas, page, "Classes", classes=atlas.classes, crumbs=crumbs, up=INDEX)


def class_page(atlas: Atlas, found: AtlasClass) -> str:
    """A class: its dream (the logits unit of that class) and the units that feed it most."""
    feeders = []
    if found.units and atlas.class_layer:
        for number, weight in found.units:
            feeders.append((atlas.unit(atlas.class_layer, number), f"unit {number} · weight {weight:.3g}"))
    shown = [other for other in atlas.classes if other.shown]
    place = shown.index(found)
    around = [shown[place - 1] if place > 0 else None, shown[place + 1] if place + 1 < len(shown) else None]
    return render(
        "class.html",
        atlas,
        found.page,
        f"class {found.index}: {found.name}",
        found=found,
        dream=atlas.class_dream(found.index),
        layer=atlas.class_layer,
        feeders=feeders,
        crumbs=[("atlas", INDEX), ("classes", CLASS_INDEX)],
        prev=around[0].page if around[0] else None,
        next=around[1].page if around[1] else None,
        up=CLASS_INDEX,
    )
