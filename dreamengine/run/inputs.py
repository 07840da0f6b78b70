"""The files a run reads besides its checkpoint, and the same run reading them from elsewhere (a Ray worker).

A file is the value of a component's option named ``path`` (or ending in
``path`` or ``file``) that names a file here: a photo start, the picture of a
``guide``, ``style`` or ``mask``, the vector of a ``direction``, or a
third-party component's file that follows the same convention.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from dreamengine.errors import DreamError
from dreamengine.registry import Registry
from dreamengine.run.config import RunConfig

__all__ = ["files_read", "reading_from"]


def files_read(registry: Registry, config: RunConfig) -> list[str]:
    """The files ``config``'s components read, each as written in the settings (its text), once each."""
    found = []
    for kinds, spec in config.specs.components():
        entry = next((registry.entries[kind][spec.name] for kind in kinds if spec.name in registry.entries[kind]), None)
        if entry is None:
            continue  # an unknown component is the run's own error, where it is built
        try:
            given = {**spec.named_options(entry.options), **config.options.get(spec.name, {})}
        except DreamError:
            continue  # and so is a malformed spec
        for option in entry.options:
            value = given.get(option.name)
            if _names_a_file(option.name) and isinstance(value, str) and value not in found and Path(value).is_file():
                found.append(value)
    return found


def reading_from(config: RunConfig, copies: Mapping[str, str]) -> RunConfig:
    """``config``, each file written as a key of ``copies`` read from the path it maps to instead."""
    if not copies:
        return config
    pattern = re.compile(
        r"(?<=[:=])(" + "|".join(map(re.escape, sorted(copies, key=len, reverse=True))) + r")(?=$|[:,;\s)+])"
    )

    def swap(text: str) -> str:
        return pattern.sub(lambda match: copies[match.group(1)], text)

    options = {
        name: {key: copies.get(value, value) if isinstance(value, str) else value for key, value in values.items()}
        for name, values in config.options.items()
    }
    return config.updated(
        {
            "init": swap(config.init),
            "objective": swap(config.objective),
            "reg": [swap(spec) for spec in config.reg],
            "options": options,
        },
        "the Ray worker",
    )


def _names_a_file(option: str) -> bool:
    return option.endswith(("path", "file"))
