"""Class names: resolving what the user typed (a name, a synonym or an index) to a class index."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence

from dreamengine.errors import DreamError, unknown_name

__all__ = ["resolve_class", "display_name", "find_classes", "name_for", "slug"]


#: Models with at most this many classes have them all listed when a class name is unknown.
_LISTED = 30


@functools.lru_cache(maxsize=4096)
def _synonyms(description: str) -> tuple[str, ...]:
    """The lower-cased names in a class description (``"tabby, tabby cat"``); cached, as every lookup reads them all."""
    return tuple(part.strip().lower() for part in description.split(",") if part.strip())


def display_name(class_names: Sequence[str], index: int) -> str:
    """A short human name for class ``index``: its first synonym, or ``class-N`` when unnamed."""
    if index < len(class_names) and class_names[index].strip():
        return class_names[index].split(",")[0].strip()
    return f"class-{index}"


def name_for(class_names: Sequence[str], index: int) -> str:
    """What to call class ``index`` so that :func:`resolve_class` finds it again: its
    :func:`display_name` where that is unambiguous, else the index itself."""
    name = display_name(class_names, index)
    try:
        return name if resolve_class(name, class_names, max(len(class_names), index + 1)) == index else str(index)
    except DreamError:
        return str(index)


def slug(text: str) -> str:
    """A file-name-safe form of a class name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "class"


def resolve_class(text: str, class_names: Sequence[str], num_classes: int) -> int:
    """Return the index for ``text``: a class's whole name, an integer index, or a name/synonym matched
    case-insensitively.

    A name that several classes share (ImageNet has two ``crane``s, and
    ``panda`` is a synonym of both the red and the giant panda) resolves to the
    class whose whole description it is, else to the one class it is the first
    name of; otherwise it is an error that lists the candidates by index.
    """
    text = str(text).strip()
    wanted = text.lower()
    whole = [i for i, description in enumerate(class_names) if description.strip().lower() == wanted]
    if len(whole) == 1:  # before indices: a class named "10" (a dataset's numbered folders) is that class
        return whole[0]
    if re.fullmatch(r"-?\d+", text):
        index = int(text)
        if not 0 <= index < num_classes:
            raise DreamError(
                f"class index {index} is out of range: the model has {num_classes} classes (0-{num_classes - 1})."
            )
        return index
    if not class_names:
        raise DreamError(f"this model has no class names; give --class as an index from 0 to {num_classes - 1}.")
    matches = [index for index, description in enumerate(class_names) if wanted in _synonyms(description)]
    for preferred in ([i for i in matches if _synonyms(class_names[i])[0] == wanted], matches):
        if len(preferred) == 1:
            return preferred[0]
    matches = sorted(set(matches) | set(whole))
    if matches:
        listed = "; ".join(f"{i} ({class_names[i].strip()})" for i in matches)
        raise DreamError(
            f"class name {text!r} is ambiguous: it names classes {listed}. Give the index instead, e.g. {matches[0]}."
        )
    owner = {synonym: index for index, description in enumerate(class_names) for synonym in _synonyms(description)}
    if len(class_names) <= _LISTED:  # a fine-tuned model's few classes: all listed
        raise unknown_name("class", text, owner, show=len(owner), meaning=owner.get)
    error = unknown_name("class", text, owner, show=0, meaning=owner.get)
    raise DreamError(f"{error} `dreamengine classes WORD` finds classes by name.")


def find_classes(class_names: Sequence[str], pattern: str | None = None) -> list[int]:
    """The indices of the classes ``pattern`` picks, in order: all of them without one.

    An integer picks the class ``--class`` would (its index, unless a class
    is named so: a dataset's numbered folders); shell wildcards (``*owl``) match any one of a
    class's names, or its whole description; any other text is looked for
    at the start of a word of the description (``owl`` finds ``great grey
    owl``, not ``bowl``). Case is ignored.
    """
    indices = range(len(class_names))
    if pattern is None:
        return list(indices)
    wanted = pattern.strip().lower()
    if re.fullmatch(r"\d+", wanted):  # as --class reads it: a class named so (numbered folders), else the index
        try:
            return [resolve_class(wanted, class_names, len(class_names))]
        except DreamError:
            return []
    if any(character in wanted for character in "*?["):
        return [
            i
            for i in indices
            if any(
                fnmatch.fnmatchcase(name, wanted)
                for name in (*_synonyms(class_names[i]), class_names[i].strip().lower())
            )
        ]
    word = re.compile(rf"\b{re.escape(wanted)}")
    return [i for i in indices if word.search(class_names[i].lower())]
