"""The atlas's static site: every page, written from the atlas folder's JSON files.

``write_site(folder)`` reads the plan, the unit records, the dataset examples and the classes
(:func:`~dreamengine.atlas.contents.read_atlas`) and writes ``index.html``, a page per layer, per unit and per class,
the classes' index and ``assets/``. The site works from ``file://``, offline: relative links only, nothing outside
the folder, thumbnails (never the full-size dreams) on the grids. A unit's page is its registered panels
(:class:`dreamengine.Panel`, the ``dreamengine_register_panels`` hook), in order.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from dreamengine.atlas.contents import Atlas, AtlasUnit, read_atlas
from dreamengine.atlas.folder import CLASS_INDEX, INDEX, SCRIPT, STYLESHEET, atlas_folder
from dreamengine.atlas.pages import class_index_page, class_page, index_page, layer_page, unit_page
from dreamengine.components import Panel
from dreamengine.errors import DreamError
from dreamengine.options import ComponentSpec
from dreamengine.plugins import PluginHost, load_plugins
from dreamengine.run.pages import stylesheet

__all__ = ["build_panels", "render_unit", "write_site"]


def write_site(output: Path, host: PluginHost | None = None) -> Path:
    """Write the atlas in ``output`` as a static site; returns its ``index.html``.

    ``host`` gives the panels (the plugins loaded as the command line does when it is ``None``).
    """
    output = Path(output)
    atlas = read_atlas(output)
    panels = build_panels(host or load_plugins())
    assets = resources.files(__package__)
    folder = atlas_folder(output)

    def write(page: str, text: str) -> Path:
        return folder.write_bytes(page, text.encode("utf-8"))

    write(STYLESHEET, stylesheet() + assets.joinpath("atlas.css").read_text("utf-8"))
    write(SCRIPT, assets.joinpath("atlas.js").read_text("utf-8"))
    for layer in atlas.layers:
        write(layer.page, layer_page(atlas, layer))
        for unit in atlas.layer_units(layer):
            write(unit.page, unit_page(atlas, unit, render_unit(panels, unit, atlas)))
    if atlas.classes:
        write(CLASS_INDEX, class_index_page(atlas))
        for found in atlas.classes:
            if found.shown:  # a class the atlas shows nothing of is listed on the classes' index alone
                write(found.page, class_page(atlas, found))
    return write(INDEX, index_page(atlas))


def build_panels(host: PluginHost) -> list[tuple[str, Panel]]:
    """Every registered panel, built once with no options, as ``(name, panel)`` in page order."""
    registry = host.registry
    panels = [(name, registry.create("panels", ComponentSpec(name, {}))) for name in registry.names("panels")]
    return sorted(panels, key=lambda pair: (pair[1].order, pair[0]))


def render_unit(panels: list[tuple[str, Panel]], unit: AtlasUnit, atlas: Atlas) -> list[tuple[str, str, str]]:
    """The sections of ``unit``'s page: ``(name, title, html)`` of each panel with something to show."""
    sections = []
    for name, panel in panels:
        try:
            text = panel.render(unit, atlas)
        except Exception as error:
            raise DreamError(
                f"panel {name!r} failed on {unit.layer.name!r} unit {unit.unit}: {type(error).__name__}: {error}"
            ) from error
        if not isinstance(text, str):
            raise DreamError(f"panel {name!r} returned a {type(text).__name__}, not the HTML of its section.")
        if text:
            sections.append((name, panel.title, text))
    return sections
