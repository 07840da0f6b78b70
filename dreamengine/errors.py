"""Errors meant for people: one clear line, with a suggestion where one helps."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["DreamError", "unknown_name"]


class DreamError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits non-zero."""


def unknown_name(what: str, name: str, choices: Iterable[str], *, show: int = 12) -> DreamError:
    """Build the error for a name that is not among ``choices``, suggesting the closest."""
    choices = sorted(set(choices))
    message = f"unknown {what} {name!r}."
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    if not close:
        close = [c for c in choices if name.lower() in c.lower()][:3]
    if close:
        message += " Did you mean " + " or ".join(repr(c) for c in close) + "?"
    if choices:
        listed = ", ".join(choices[:show]) + (f", ... ({len(choices)} in all)" if len(choices) > show else "")
        message += f" Available: {listed}."
    return DreamError(message)
