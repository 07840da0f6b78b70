"""What the static pages share (the study's gallery and the atlas): their templates, their stylesheet, JSON safe
inside a ``<script>`` block, and relative links.

The pages are Jinja2 templates, package files in each part's ``templates/`` folder (the page every one extends,
``page.html``, is here). :func:`render_page` renders one with autoescape on, so every value is HTML-escaped unless
it is marked safe, and with strict undefined values, so a name the template uses and the code does not give fails
loudly. Two filters do what escaping cannot: ``script_json`` for data inside a ``<script>`` block (the one place
data is marked safe) and ``url`` for links (:func:`relative_url`). Besides, only markup is marked safe, where the
code hands it over: a panel's HTML (a :class:`dreamengine.Panel` escapes its names) and the package's own style and
script files that a page inlines.

The pages work from ``file://`` with no server and no network: every link is relative, every name in a URL is
percent-encoded, every name in the text is HTML-escaped, and no page names anything outside its folder.
"""

from __future__ import annotations

import json
import posixpath
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

__all__ = ["page_templates", "render_page", "script_json", "relative_url", "stylesheet"]

#: Characters that JSON leaves as they are but that an HTML ``<script>`` block or a JavaScript parser reads:
#: ``<!--`` and ``</script>`` end or hide the rest of the page, U+2028/9 end a line in older JavaScript.
_SCRIPT_UNSAFE = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}


def script_json(value) -> str:
    """``value`` as JSON safe to embed in an HTML ``<script>`` block: ``<``, ``>``, ``&`` and U+2028/9 are
    written as ``\\uXXXX`` escapes, so no name (``<!--``, ``</script>``) can end the block or hide the page."""
    return json.dumps(value, sort_keys=True).translate(_SCRIPT_UNSAFE)


def relative_url(target: str, page: str) -> str:
    """The URL of ``target`` from the page at ``page``, both paths relative to the site's folder, with ``/``.

    Each part is percent-encoded (``#``, ``?``, ``%``, quotes, spaces), so the URL names exactly that file and
    is safe in an HTML attribute as it is: ``relative_url("units/a b/7.png", "layers/x.html")`` is
    ``../units/a%20b/7.png``.
    """
    path = posixpath.relpath(target, posixpath.dirname(page) or ".")
    return "/".join(part if part == ".." else quote(part, safe="") for part in path.split("/"))


def stylesheet() -> str:
    """The pages' shared stylesheet: a dark neutral background, a grid of pictures with even gaps, visible focus."""
    return resources.files(__package__).joinpath("pages.css").read_text(encoding="utf-8")


@cache
def page_templates(package: str) -> Environment:
    """The Jinja2 environment of ``package``'s pages: its ``templates/`` folder first, then the shared one here.

    Autoescape is on for every template and undefined names raise (:class:`~jinja2.StrictUndefined`). Block tags
    take their line's indent and newline with them, so the templates can be laid out for reading.
    """
    environment = Environment(
        loader=ChoiceLoader([PackageLoader(package), PackageLoader(__package__)]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    environment.filters["script_json"] = _script_markup
    environment.filters["url"] = relative_url
    return environment


def render_page(package: str, template: str, **values: Any) -> str:
    """The page ``template`` of ``package`` (``"dreamengine.atlas"``, ``"layer.html"``) rendered with ``values``."""
    return page_templates(package).get_template(template).render(values)


def _script_markup(value: Any) -> Markup:
    """``{{ value|script_json }}``: :func:`script_json`, marked safe, for a ``<script>`` block only."""
    return Markup(script_json(value))
