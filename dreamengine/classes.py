"""Class names: resolving what the user typed (a name, a synonym or an index) to a class index."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import DreamError, unknown_name

__all__ = ["resolve_class", "display_name", "slug"]


def _synonyms(description: str) -> list[str]:
    return [part.strip().lower() for part in description.split(",") if part.strip()]


def display_name(class_names: Sequence[str], index: int) -> str:
    """A short human name for class ``index``: its first synonym, or ``class-N`` when unnamed."""
    if index < len(class_names) and class_names[index].strip():
        return class_names[index].split(",")[0].strip()
    return f"class-{index}"


def slug(text: str) -> str:
    """A file-name-safe form of a class name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "class"


def resolve_class(text: str, class_names: Sequence[str], num_classes: int) -> int:
    """Return the index for ``text``: an integer index, or a name/synonym matched case-insensitively."""
    text = str(text).strip()
    if re.fullmatch(r"-?\d+", text):
        index = int(text)
        if not 0 <= index < num_classes:
            raise DreamError(f"class index {index} is out of range: the model has {num_classes} classes (0-{num_classes - 1}).")
        return index
    if not class_names:
        raise DreamError(f"this model has no class names; give --class as an index from 0 to {num_classes - 1}.")
    wanted = text.lower()
    for index, description in enumerate(class_names):
        if wanted == description.lower() or wanted in _synonyms(description):
            return index
    choices = {synonym for description in class_names for synonym in _synonyms(description)}
    raise unknown_name("class", text, choices, show=0)
