"""Judging's defaults that ``evaluate --help`` shows: this module imports no torch, so the help needs none."""

from __future__ import annotations

__all__ = ["DEFAULT_JUDGES", "DEFAULT_THUMB", "GROUPING_NAMES"]

#: Judges used when none are named (each only for dreams another model made).
DEFAULT_JUDGES = ("efficientnet-lite1", "efficientnet-lite2")
#: Longer side, in pixels, of the thumbnail view.
DEFAULT_THUMB = 64
#: How dreams may be grouped in the summary, the keys of :data:`~dreamengine.analysis.evaluation.GROUPINGS`: by
#: folder (relative to the one evaluated), by target class, or all together.
GROUPING_NAMES = ("folder", "class", "all")
