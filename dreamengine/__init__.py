"""dreamengine: a plugin-based deep-dream engine.

The public API for plugin authors and scripts is what this module exports;
built-in plugins import nothing else. Names are imported when first used, so
``from dreamengine import hookimpl`` (all a plugin's entry module needs) does
not import torch: the command line starts at once.

Each public name is listed once, in the stub ``__init__.pyi`` beside this file:
type checkers read it, and this module reads its lines into ``_PUBLIC`` (where
each name lives) and ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import Any


def _read_stub() -> dict[str, str]:
    """The stub's public names, each with the module it lives in (``from .MODULE import NAME as NAME``, one name a
    line; ``from . import NAME as NAME`` for a sub-package that is itself the name). Read without :mod:`ast`, which
    would add milliseconds to the command line's start, before it holds Ctrl-C."""
    public = {}
    with open(f"{__file__.rpartition('.')[0]}.pyi", encoding="utf-8") as stub:
        for number, line in enumerate(stub, 1):
            words = line.partition("#")[0].split()
            if words[:1] != ["from"]:
                continue
            if len(words) != 6 or words[2:5:2] != ["import", "as"] or words[3] != words[5] or words[1][0] != ".":
                raise ImportError(f"dreamengine/__init__.pyi, line {number}: write 'from .MODULE import NAME as NAME'")
            source, name = words[1], words[3]
            public[name] = __name__ + (source if source != "." else f".{name}")
    return public


#: Where each public name lives; :func:`__getattr__` imports it on first use.
_PUBLIC = _read_stub()

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str) -> Any:
    """Import a public name from the module it lives in, the first time it is used."""
    if name == "__version__":
        return _version()
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dreamengine' has no attribute {name!r}")
    if module == f"{__name__}.{name}":  # a callable sub-package (atlas): its import makes it this attribute
        return importlib.import_module(module)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _version() -> str:
    """The installed distribution's version, read when first asked for: reading it imports half the standard
    library (``importlib.metadata``), which the command line's start, before it holds Ctrl-C, does without."""
    metadata = importlib.import_module("importlib.metadata")
    try:
        found: str = metadata.version("dreamengine")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found


def __dir__() -> list[str]:
    """The public names (what ``from dreamengine import *`` gives)."""
    return sorted(__all__)
