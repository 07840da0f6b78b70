"""A dream's recipe: the settings stored in its PNG, and the ``dreamengine run`` command line that repeats them."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from dreamengine.errors import DreamError
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import read_manifest

__all__ = ["stored_settings", "stored_config", "command_line"]

#: settings left off a recipe: where the dream was written is not how it was made.
_NOT_IN_RECIPE = ("output", "preset")
#: the run options that name each setting, where it is not ``--`` and the setting's name with ``-``.
_FLAGS = {"classes": "-c", "options": "-s"}


def stored_settings(path: str | os.PathLike) -> dict[str, Any]:
    """The run settings stored in a dream PNG, as a dream made before norms were folded was made, with the
    thread count it was dreamed with where its settings left that to the machine."""
    manifest = read_manifest(path)
    stored = manifest.get("config")
    if not isinstance(stored, dict):
        raise DreamError(f"{str(path)!r} holds no run settings: it is not a dream, or not dreamengine's.")
    threads = {"threads": manifest["threads"]} if stored.get("threads") is None and "threads" in manifest else {}
    return {"fold_norms": False, **stored, **threads}


def stored_config(path: str | os.PathLike) -> RunConfig:
    """The :class:`RunConfig` a dream PNG was made with."""
    return RunConfig().updated(stored_settings(path), f"the settings stored in {str(path)!r}")


def command_line(config: RunConfig, preset: Mapping[str, Any] | None = None) -> list[str]:
    """The arguments of ``dreamengine run`` that make ``config``'s dream, where the dream goes left out.

    Args:
        config: the dream's settings.
        preset: the settings of ``config.preset``, if it is known here: the arguments are then ``--preset NAME``
            and each setting that is not the preset's; otherwise each setting that is not the default.
    """
    baseline, arguments = RunConfig(), []
    if config.preset and preset is not None:
        baseline, arguments = baseline.updated(preset, f"preset {config.preset!r}"), ["--preset", config.preset]
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.name not in _NOT_IN_RECIPE and value != getattr(baseline, field.name):
            arguments += _arguments(field.name, value)
    return arguments


def _arguments(name: str, value: Any) -> list[str]:
    flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
    if name == "classes":
        return [part for item in value for part in (flag, item)]
    if name == "options":
        return [
            part
            for component, options in value.items()
            for option, setting in options.items()
            for part in (flag, f"{component}.{option}={_text(setting)}")
        ]
    if name in ("reg", "strategy"):
        return [flag, ",".join(value) or "none"]
    if isinstance(value, bool):
        return [flag if value else flag.replace("--", "--no-", 1)]
    return [flag, str(value)]


def _text(value: Any) -> str:
    """An option's value as the command line writes it (``true``, not Python's ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
