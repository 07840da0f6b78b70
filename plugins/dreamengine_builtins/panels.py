"""The atlas's built-in panels: the sections of a unit's page (the dream, its variants, its dataset examples, its
classes), registered exactly as a third party's panel would be.

A panel gets the unit (``unit.layer``, ``unit.unit``, ``unit.dream``, ``unit.examples``, ...) and the atlas
(``atlas.size``, ``atlas.class_of(index)``, ...), and returns HTML; it escapes every name with ``self.escape``
and links with ``unit.url(path)``.
"""

from __future__ import annotations

from dreamengine import Panel, hookimpl

__all__ = ["ClassesPanel", "DreamPanel", "ExamplesPanel", "VariantsPanel"]


def _about(unit, atlas) -> str:
    """``unit 7 of layer blocks.3``, or ``class 3 (toucan)`` for the logits."""
    found = atlas.class_of(unit.unit) if unit.layer.kind == "logits" else None
    return f"class {unit.unit} ({found.name})" if found else f"unit {unit.unit} of layer {unit.layer.name}"


class DreamPanel(Panel):
    """The unit's dream, large, with its activation and the check against the best dataset example."""

    order = 10

    def render(self, unit, atlas) -> str:
        if unit.dream is None:
            return '<p class="muted">Not dreamt yet.</p>'
        height, width = atlas.size
        size = f' width="{width}" height="{height}"' if width and height else ""
        alt = self.escape(f"the dream of {_about(unit, atlas)}")
        picture = (
            f'<a href="{unit.url(unit.dream)}"><img class="dream" src="{unit.url(unit.dream)}" alt="{alt}"{size}></a>'
        )
        return f'<div class="hero">{picture}{self._facts(unit)}</div>'

    def _facts(self, unit) -> str:
        check = unit.check
        rows = [("activation of its dream", "-" if unit.activation is None else f"{unit.activation:.4g}")]
        if check["best"] is not None:
            rows.append(("of the best dataset example", f"{check['best']:.4g}"))
        if check["passed"] is not None:
            verdict = "pass" if check["passed"] else "fail"
            ratio = (
                f"{check['ratio']:.2f}</span> (the dream ÷ the best example)"
                if check["ratio"] is not None
                else f"{verdict}</span> (the best example does not turn the unit on)"
            )
            rows.append(("check", f'<span class="{verdict}">{ratio}'))
        return '<dl class="facts">' + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows) + "</dl>"


class VariantsPanel(Panel):
    """The unit's other dreams: the same unit from other starts, pushed apart by the diversity objective."""

    title = "Variants"
    order = 20

    def render(self, unit, atlas) -> str:
        cells = "".join(
            f'<li><a href="{unit.url(path)}"><img src="{unit.url(path)}" loading="lazy" '
            f'alt="{self.escape(f"variant {number} of {_about(unit, atlas)}")}"></a></li>'
            for number, path in enumerate(unit.variants, 1)
        )
        return f'<ul class="grid">{cells}</ul>' if cells else ""


#: What the examples panel says of a unit that no image of the dataset turns on.
NONE_ACTIVATE = "No image of the dataset turns this unit on: the mean activation of every one is 0 or below."


class ExamplesPanel(Panel):
    """The dataset images that turn the unit on most (and drive it most below 0), cropped around where it fired
    most, marked; an image that leaves it at 0 is in neither list."""

    title = "Dataset examples"
    order = 30

    def render(self, unit, atlas) -> str:
        parts = []
        if unit.examples and not unit.activating:
            parts.append(f"<p>{self.escape(NONE_ACTIVATE)}</p>")
        for examples, heading in ((unit.activating, ""), (unit.opposing, "Most negative")):
            if examples:
                cells = "".join(self._example(unit, atlas, example) for example in examples)
                parts.append((f"<h3>{heading}</h3>" if heading else "") + f'<ul class="grid">{cells}</ul>')
        return "".join(parts)

    def _example(self, unit, atlas, example) -> str:
        alt = self.escape(f"{example.image}, activation {example.activation:.3g}")
        picture = f'<img src="{unit.url(example.crop)}" alt="{alt}" loading="lazy">' if example.crop else ""
        caption = f"{example.activation:.3g} · {self.escape(example.image)}"
        if example.peak is not None and example.y is not None and example.x is not None:
            caption += f" · peak {example.peak:.3g} at ({example.y}, {example.x})"
        crop = f'<span class="crop">{picture}{self._marker(unit, atlas, example)}</span>'
        return f"<li><figure>{crop}<figcaption>{caption}</figcaption></figure></li>"

    @staticmethod
    def _marker(unit, atlas, example) -> str:
        """A ring where the unit fired most: the peak cell's centre, in the crop (none without a box)."""
        if example.box is None or example.y is None or example.x is None or len(unit.layer.shape) < 3:
            return ""
        (rows, columns), (height, width) = unit.layer.shape[-2:], atlas.size
        left, top, right, bottom = example.box
        if right <= left or bottom <= top or not rows or not columns:
            return ""
        x = ((example.x + 0.5) * width / columns - left) / (right - left)
        y = ((example.y + 0.5) * height / rows - top) / (bottom - top)
        if not (0 <= x <= 1 and 0 <= y <= 1):
            return ""
        return f'<span class="peak" style="left: {100 * x:.1f}%; top: {100 * y:.1f}%" aria-hidden="true"></span>'


class ClassesPanel(Panel):
    """The classes the unit's weights support most (for the layer that feeds the classifier), or the unit's class."""

    title = "Classes"
    order = 40

    def render(self, unit, atlas) -> str:
        if unit.layer.kind == "logits":
            found = atlas.class_of(unit.unit)
            return (
                f'<p>The dream of class <a href="{unit.url(found.page)}">{self.escape(found.name)}</a>.</p>'
                if found
                else ""
            )
        links = []
        for index, weight in unit.classes:
            found = atlas.class_of(index)
            if found:
                link = f'<a href="{unit.url(found.page)}">{self.escape(found.name)}</a>'
                links.append(f'<li>{link} <span class="muted">{weight:.3g}</span></li>')
        return f"<p>The classes its weights support most:</p><ol>{''.join(links)}</ol>" if links else ""


@hookimpl
def dreamengine_register_panels(register):
    register("dream", DreamPanel)
    register("variants", VariantsPanel)
    register("examples", ExamplesPanel)
    register("classes", ClassesPanel)
