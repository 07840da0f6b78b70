"""Settings resolved once: the one order in which a run's settings override each other.

Every command that dreams (``run``, ``study``, ``atlas``) and a script alike make their :class:`RunConfig` with
:func:`resolve_settings`, each layer applied over the one before it:

1. the defaults (:class:`RunConfig`'s, or a ``base`` the caller gives);
2. the settings stored in a dream PNG (``--from``), checked once the rest is applied: a stored file missing from
   here is explained;
3. a preset (``--preset``, else the ``preset`` a config file names);
4. a TOML config file (``--config``);
5. options (the command line's, or a script's): values ``None`` or ``()`` mean "not given", then the ``-s
   COMPONENT.OPTION=VALUE`` assignments, which win over options written in the specs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dreamengine.errors import DreamError
from dreamengine.options import parse_assignment
from dreamengine.plugins import PluginHost
from dreamengine.registry import Registry
from dreamengine.run.config import RunConfig, load_toml
from dreamengine.run.imaging import read_manifest
from dreamengine.run.prepare import apply_preset, start_file
from dreamengine.run.recipe import stored_settings

__all__ = ["resolve_settings"]


def resolve_settings(
    host: PluginHost,
    *,
    stored: str | None = None,
    preset: str | None = None,
    config_file: str | None = None,
    options: Mapping[str, Any] | None = None,
    assignments: Sequence[str] = (),
    base: RunConfig | None = None,
    source: str = "the command line",
) -> RunConfig:
    """The settings of a run: ``base`` (the defaults) <- the settings ``stored`` in a dream PNG <- ``preset`` (or
    the one ``config_file`` names) <- ``config_file`` <- ``options`` and ``assignments`` (said to come from
    ``source`` in errors).

    Args:
        host: the plugin host whose registry holds the presets and the start images' initializers.
        stored: a dream PNG whose stored settings are re-used (``--from``).
        preset: a preset's name (``--preset``); without one, a ``preset`` setting in ``config_file`` is applied.
        config_file: a TOML file of settings (``--config``).
        options: settings by name; a value ``None`` or ``()`` is not given.
        assignments: ``COMPONENT.OPTION=VALUE`` texts (``-s``), each one component's option.
        base: the settings to start from; ``RunConfig()`` when not given.
        source: what ``options`` and ``assignments`` are called in an error.
    """
    config = base if base is not None else RunConfig()
    saved = stored_settings(stored) if stored else {}
    if stored:
        config = config.updated(saved, f"the settings stored in {stored!r}")
    file_settings = load_toml(config_file) if config_file else {}
    if not preset and file_settings.get("preset") is not None:
        preset = file_settings["preset"]
        if not isinstance(preset, str):
            raise DreamError(f"setting 'preset' in config file {config_file!r} must be str, got {preset!r}.")
    if preset:
        config = apply_preset(host, config, preset)
    if file_settings:
        config = config.updated(file_settings, f"config file {config_file!r}")
    config = config.updated(_given(options or {}, assignments), source)
    if stored:
        _check_stored_paths(host.registry, stored, saved, config)
    return config


def _given(options: Mapping[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """The settings ``options`` gives (``None`` and ``()`` are not given), with ``assignments`` as ``options``."""
    given = {k: v for k, v in options.items() if v is not None and v != ()}
    by_component: dict[str, dict[str, str]] = {}
    for text in assignments:
        component, option, value = parse_assignment(text)
        by_component.setdefault(component, {})[option] = value
    if by_component:
        given["options"] = by_component
    return given


def _check_stored_paths(registry: Registry, from_png: str, stored: dict[str, Any], config: RunConfig) -> None:
    """A stored file (the checkpoint, the weights and their SHA-256, the class names, the saved model's folder, the
    start photo) missing from here is explained: a relative path in a dream's settings is relative to where the
    dream was made."""
    files: list[tuple[str, object, str, str]] = []
    if stored.get("checkpoint") and config.checkpoint == stored["checkpoint"]:
        files.append(("checkpoint", config.checkpoint, "--checkpoint PATH", ""))
    if stored.get("weights") and config.weights == stored["weights"]:
        files.append(("weights file", config.weights, "--weights PATH", _sha256_of(from_png)))
    if stored.get("class_names") and config.class_names == stored["class_names"]:
        files.append(("class names", config.class_names, "--class-names PATH", ""))
    if config.model == stored.get("model") and ("/" in config.model or "\\" in config.model):
        files.append(("the saved model", config.model, "--model FOLDER", ""))
    if config.init == stored.get("init"):
        photo = start_file(registry, config.specs.init, config.options.get(config.specs.init.name))
        if photo is not None:
            files.append(("start image", photo, f"--init {config.specs.init.name}:path=PATH", ""))
    for what, path, option, note in files:
        if not Path(str(path)).exists():
            raise DreamError(
                f"{from_png!r} was dreamed with {what} {str(path)!r}{note}, which is not there from this "
                "folder (a relative path is relative to where the dream was made): run from that "
                f"folder, or give {option}."
            )


def _sha256_of(path: str) -> str:
    """`` (sha256 HEX)`` of the weights a dream PNG names in its manifest, or nothing where it names none."""
    weights = (read_manifest(path).get("model") or {}).get("weights") or {}
    return f" (sha256 {weights['sha256']})" if weights.get("sha256") else ""
