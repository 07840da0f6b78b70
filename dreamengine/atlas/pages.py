"""The atlas's pages as HTML: the frame every page shares, the index, a layer, a unit, the classes and a class.

Each function returns a page's text; every name in it is escaped (:func:`html.escape` for text and attributes,
:func:`~dreamengine.run.pages.relative_url` for links), and every link is relative to the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from dreamengine.atlas.check import layer_summary, sort_key
from dreamengine.atlas.panels import Atlas, AtlasClass, AtlasLayer, AtlasUnit
from dreamengine.run.pages import relative_url

__all__ = ["class_index_page", "class_page", "index_page", "layer_page", "unit_page", "check_summary", "unit_name"]

#: The pages' own stylesheet and script, relative to the atlas folder.
CSS, SCRIPT = "assets/atlas.css", "assets/atlas.js"
#: How many thumbnails the index shows of each layer.
STRIP = 12


def frame(page: str, title: str, body: str, crumbs: Sequence[tuple[str, str]] = (), **links: str | None) -> str:
    """A whole page: ``body`` under a header with the breadcrumbs ``(label, path)`` and ``title``.

    ``links`` (``prev``, ``next``, ``up``) are the paths the arrow keys and ``u`` go to, shown in the header.
    """

    def url(path: str) -> str:
        return escape(relative_url(path, page))

    head = "".join(f'<link rel="{rel}" href="{url(path)}">\n' for rel, path in links.items() if path)
    trail = "".join(f'<a href="{url(path)}">{escape(label)}</a>' for label, path in crumbs)
    steps = [(links.get("prev"), "← previous", "prev"), (links.get("next"), "next →", "next")]
    around = " ".join(f'<a href="{url(path)}" rel="{rel}">{label}</a>' for path, label, rel in steps if path)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{url(CSS)}">
{head}<script src="{url(SCRIPT)}" defer></script>
</head>
<body>
<header>
<nav class="crumbs" aria-label="where you are">{trail}</nav>
<h1>{escape(title)}</h1>
<nav class="around" aria-label="neighbours">{around}</nav>
</header>
<main>
{body}
</main>
<footer class="muted">Keys: ← and → the neighbours, u one level up, / the search.</footer>
</body>
</html>
"""


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


def _thumb(atlas: Atlas, unit: AtlasUnit, page: str, caption: str = "") -> str:
    """A unit's thumbnail linking to its page (lazy-loaded; a placeholder before it is dreamt)."""
    name = escape(f"{unit.layer.name}, {unit_name(atlas, unit)}")
    picture = (
        f'<img src="{escape(relative_url(unit.thumb, page))}" alt="{name}" loading="lazy" width="96" height="96">'
        if unit.thumb
        else f'<span class="missing" role="img" aria-label="{name}, not dreamt yet"></span>'
    )
    text = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<a href="{escape(relative_url(unit.page, page))}"><figure>{picture}{text}</figure></a>'


def index_page(atlas: Atlas) -> str:
    """The atlas's front page: each layer with its unit count, its check and a strip of thumbnails."""
    page = "index.html"
    sections = []
    for layer in atlas.layers:
        units = atlas.layer_units(layer)
        dreamt = sum(unit.dream is not None for unit in units)
        shape = "×".join(map(str, layer.shape))
        strip = "".join(_thumb(atlas, unit, page) for unit in units[:STRIP])
        sections.append(
            f'<section class="layer"><h2><a href="{escape(relative_url(layer.page, page))}">{escape(layer.name)}</a>'
            f'</h2><p class="muted">{escape(layer.kind)} {shape} · {len(units)} units ({dreamt} dreamt) · '
            f'{escape(check_summary(units))}</p><div class="strip">{strip}</div></section>'
        )
    classes = (
        f'<p><a href="classes/index.html">The {len(atlas.classes)} classes</a>, with a search by name.</p>'
        if atlas.classes
        else ""
    )
    total = sum(len(layer.units) for layer in atlas.layers)
    intro = f'<p class="note">{len(atlas.layers)} layers, {total} units. Pick a layer to see all its units.</p>'
    return frame(page, f"Atlas of {atlas.model}", intro + classes + "\n".join(sections))


def layer_page(atlas: Atlas, layer: AtlasLayer) -> str:
    """A layer: the grid of its units' thumbnails, sortable by unit and by the check, filtered by number or class."""
    page = layer.page
    units = atlas.layer_units(layer)
    checked = sorted((unit for unit in units if unit.check["passed"] is not None), key=lambda u: sort_key(u.check))
    rank = {unit.unit: place for place, unit in enumerate(checked, 1)}  # the weakest 1: sorting puts the largest first
    items = []
    for unit in units:
        label = unit_name(atlas, unit).removeprefix("unit ")
        caption = label + (f" · {text}" if (text := check_text(unit.check)) else "")
        data = f' data-check="{rank[unit.unit]}"' if unit.unit in rank else ""
        items.append(
            f'<li data-unit="{unit.unit}" data-name="{escape(label.lower())}"{data}>'
            f"{_thumb(atlas, unit, page, caption)}</li>"
        )
    index = atlas.layers.index(layer)
    around = [atlas.layers[i].page if 0 <= i < len(atlas.layers) else None for i in (index - 1, index + 1)]
    body = f"""<p class="muted">{escape(layer.kind)} {"×".join(map(str, layer.shape))} · {len(units)} units ·
{escape(check_summary(units))}</p>
<div class="controls">
<span role="group" aria-label="sort the units">Sort by
<button type="button" data-sort="unit" data-target="units" aria-pressed="true">unit</button>
<button type="button" data-sort="check" data-target="units" aria-pressed="false">check</button></span>
<label>Find <input type="search" data-search data-target="units" placeholder="unit or class"></label>
</div>
<ul class="grid" id="units">
{chr(10).join(items)}
</ul>"""
    return frame(page, layer.name, body, [("atlas", "index.html")], prev=around[0], next=around[1], up="index.html")


def unit_page(atlas: Atlas, unit: AtlasUnit, sections: Sequence[tuple[str, str, str]]) -> str:
    """A unit's page: its panels' ``(name, title, html)`` sections in order, links to its layer and neighbours."""
    before, after = atlas.neighbours(unit)
    body = "\n".join(
        f'<section id="{escape(name)}" class="panel">'
        + (f"<h2>{escape(title)}</h2>" if title else "")
        + f"{text}</section>"
        for name, title, text in sections
    )
    crumbs = [("atlas", "index.html"), (unit.layer.name, unit.layer.page)]
    return frame(
        unit.page,
        f"{unit.layer.name} · {unit_name(atlas, unit)}",
        body,
        crumbs,
        prev=before.page if before else None,
        next=after.page if after else None,
        up=unit.layer.page,
    )


def class_index_page(atlas: Atlas) -> str:
    """Every class by index, with a search by name."""
    page = "classes/index.html"
    items = "\n".join(
        f'<li data-name="{escape(c.name.lower())}"><a href="{escape(relative_url(c.page, page))}">'
        f'<span class="muted">{c.index}</span> {escape(c.name)}</a></li>'
        for c in atlas.classes
    )
    body = f"""<div class="controls"><label>Find a class <input type="search" data-search data-target="classes"
placeholder="name"></label></div>
<ul class="classes" id="classes">
{items}
</ul>"""
    return frame(page, "Classes", body, [("atlas", "index.html")], up="index.html")


def class_page(atlas: Atlas, found: AtlasClass) -> str:
    """A class: its dream (the logits unit of that class) and the units that feed it most."""
    page = found.page
    dream = atlas.class_dream(found.index)
    parts = []
    if dream is not None and dream.dream:
        parts.append(
            f'<p><a href="{escape(relative_url(dream.page, page))}"><img class="dream" src="'
            f'{escape(relative_url(dream.dream, page))}" alt="{escape(f"the dream of class {found.name}")}"></a></p>'
        )
    if found.units and atlas.class_layer:
        cells = []
        for number, weight in found.units:
            unit = atlas.unit(atlas.class_layer, number)
            caption = f"unit {number} · weight {weight:.3g}"
            cells.append(
                f"<li>{_thumb(atlas, unit, page, caption)}</li>"
                if unit
                else f"<li><figure><figcaption>{escape(caption)}</figcaption></figure></li>"
            )
        parts.append(
            f'<h2>The units of {escape(atlas.class_layer)} that feed it most</h2><ul class="grid">{"".join(cells)}</ul>'
        )
    if not parts:
        parts.append('<p class="muted">Nothing dreamt for this class yet.</p>')
    around = [atlas.class_of(i) for i in (found.index - 1, found.index + 1)]
    return frame(
        page,
        f"class {found.index}: {found.name}",
        "\n".join(parts),
        [("atlas", "index.html"), ("classes", "classes/index.html")],
        prev=around[0].page if around[0] else None,
        next=around[1].page if around[1] else None,
        up="classes/index.html",
    )
