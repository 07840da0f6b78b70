"""What the static pages share (the study's gallery and the atlas): their stylesheet, JSON safe inside a
``<script>`` block, and relative links.

The pages work from ``file://`` with no server and no network: every link is relative, every name in a URL is
percent-encoded, every name in the text is HTML-escaped, and no page names anything outside its folder.
"""

from __future__ import annotations

import json
import posixpath
from importlib import resources
from urllib.parse import quote

__all__ = ["script_json", "relative_url", "stylesheet"]

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
