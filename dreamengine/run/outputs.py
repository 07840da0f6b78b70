"""Where a run's dreams go and what they carry: file names, the early check of ``--output``, the files written
(never over another dream), and the settings stored in each PNG."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from dreamengine.components import DreamResult
from dreamengine.engine.classes import slug
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import (
    ATTRIBUTION_KEY,
    ATTRIBUTION_PERCENTILE,
    attribution_picture,
    png_bytes,
    read_manifest,
    save_animation,
    save_png,
    side_by_side,
    to_pil,
    write_atomic,
)
from dreamengine.run.recipe import stored_settings

__all__ = ["output_path", "check_output", "write_outputs", "manifest"]


#: The longest part of a file name a dream's name makes (a long objective expression would pass the file system's
#: limit); names cut to the same part are told apart as any two dreams are, by ``-2``, ``-3``.
_NAME_PART = 80


def output_path(config: RunConfig, name: str, count: int) -> Path:
    """Where the dream called ``name`` (its class, or its objective) goes: into the output folder, or the given
    .png file."""
    out, part = Path(config.output), slug(name)[:_NAME_PART].rstrip("-")
    if _names_a_file(config.output):
        return out if count == 1 else out.with_name(f"{out.stem}-{part}.png")
    return out / f"{part}-seed{config.seed}.png"


#: Picture suffixes that ``--output`` might be given by mistake: dreams are written as PNG.
_OTHER_PICTURES = {".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


def check_output(output: str) -> None:
    """Refuse, before any work, an ``--output`` that the dream could not be written to."""
    out = Path(output)
    if out.suffix.lower() in _OTHER_PICTURES:
        raise DreamError(
            f"--output {str(out)!r} names a {out.suffix} file, but dreams are written as PNG, with "
            "their settings inside: name a .png file or a folder (an animation, --save-every, "
            "is written beside each PNG)."
        )
    names_a_file = _names_a_file(output)
    folder = out.parent if names_a_file else out
    if names_a_file and out.is_dir():
        raise DreamError(
            f"--output {str(out)!r} is a folder, but a name ending in .png names the dream's file: "
            "name another .png file, or a folder."
        )
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise DreamError(f"cannot write into {str(folder)!r}: {str(existing)!r} is a file, not a folder.")
    if names_a_file and out.is_file() and not _is_dream(out):
        raise DreamError(
            f"--output {str(out)!r} is there and is not a dream (it carries no dreamengine run "
            "settings); a dream replaces only an earlier dream: name another file."
        )


def _is_dream(path: Path) -> bool:
    """Whether ``path`` is a picture ``dreamengine run`` wrote (it carries a run's settings)."""
    try:
        stored_settings(path)
    except DreamError:
        return False
    return True


def _names_a_file(output: str) -> bool:
    """Whether ``--output`` names a .png file rather than a folder."""
    return Path(output).suffix.lower() == ".png"


def write_outputs(
    config: RunConfig,
    model: DreamModel,
    result: DreamResult,
    indices: Sequence[int | None],
    names: list[str],
    parts: Sequence[str] | None = None,
) -> list[Path]:
    """Write each dream (and its side-by-side and animation, if asked), every PNG with its manifest; ``indices``
    holds each item's target class (``None``: dreamed toward no class), ``names`` what to call it, and ``parts``,
    for objectives dreamed side by side, each item's own objective."""
    paths, side, animated, attribution = [], config.side_by_side, bool(result.frames), result.attribution
    attributed, named = attribution is not None, _names_a_file(config.output)
    # beside a dream in a folder its companions' names were chosen with it; beside a file named by the user, a
    # companion steps around a file of theirs
    companion = _unless_theirs if named else _as_chosen
    result = replace(result, image=model.seen(result.image))  # a grayscale network's dreams in its own colours
    for item, (index, name) in enumerate(zip(indices, names)):
        repeat = names[:item].count(name)  # the same class dreamed twice in a batch gets "-2", "-3", ...
        path = output_path(config, f"{name} {repeat + 1}" if repeat else name, len(indices))
        meta = manifest(config, model, result, item, index, name, parts[item] if parts else None)
        if named:  # a dream named by the user is theirs to overwrite, but not their pictures
            path = save_png(to_pil(result.image[item]), _unless_theirs(path), meta)
        else:
            data = png_bytes(to_pil(result.image[item]), meta)
            beside = functools.partial(_companions, config, side=side, animated=animated, attributed=attributed)
            path = _save_beside_other_dreams(data, path, meta, beside)
        paths.append(path)
        if side:
            where = companion(_companions(config, path, side, False)[0])
            paths.append(save_png(side_by_side(result.image[item]), where, meta))
        if attribution is not None:
            picture, where = attribution_picture(result.image[item], attribution[item]), _attribution_path(path)
            stored = {**meta, ATTRIBUTION_KEY: {"percentile": ATTRIBUTION_PERCENTILE}}
            paths.append(save_png(picture, companion(where), stored))
        if animated:  # every --save-every steps, or a strategy's own (a zoom's frames)
            frames = [frame[item] for frame in result.frames]
            paths.append(save_animation(frames, companion(_companions(config, path, False, animated)[0]), meta))
    return paths


def _unless_theirs(path: Path) -> Path:
    """``path``, or, where a file there is not one dreamengine wrote (a user's picture beside a dream named with
    ``--output FILE.png``), the first of ``STEM-2``, ``STEM-3``, ... that is free or is such a file."""
    candidate, number = path, 1
    while os.path.lexists(candidate) and not _is_dream(candidate):
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def _as_chosen(path: Path) -> Path:
    """A companion's path as :func:`_save_beside_other_dreams` chose it: free, or an earlier copy of this dream's."""
    return path


def _companions(config: RunConfig, path: Path, side: bool, animated: bool, attributed: bool = False) -> list[Path]:
    """The files written beside the dream at ``path``: its raw | rescaled picture (``side``), its animation, its
    attribution map."""
    return (
        [path.with_name(f"{path.stem}-side.png")] * side
        + [path.with_suffix(f".{config.animation}")] * animated
        + [_attribution_path(path)] * attributed
    )


def _attribution_path(path: Path) -> Path:
    """Where the attribution map of the dream at ``path`` goes."""
    return path.with_name(f"{path.stem}-attribution.png")


def _save_beside_other_dreams(
    data: bytes, path: Path, meta: Mapping[str, Any], beside: Callable[[Path], list[Path]]
) -> Path:
    """Write the PNG ``data`` of the dream ``meta`` describes at ``path``, unless that or a file to be written
    ``beside`` it (its side-by-side picture, its animation) holds another dream (other settings or class), a file
    that is not a dream, or the finished dream of an interrupted one: then at the first of ``STEM-2.png``,
    ``STEM-3.png``, ... where none does. A dream made again with the same settings replaces itself (the same bytes,
    or the finished dream in place of an interrupted one). A free name is taken in one step, so that runs finishing
    together into one folder keep both dreams."""
    candidate, number = path, 1
    while True:
        taken = os.path.lexists(candidate)  # a dangling link too is in the way
        others = [other for other in beside(candidate) if os.path.lexists(other) and not _replaceable(other, meta)]
        if (not taken or _replaceable(candidate, meta)) and not others:
            try:
                return write_atomic(candidate, lambda handle: handle.write(data), replace=taken)
            except FileExistsError:  # another run took the name just now: judge its file
                continue
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")


def _replaceable(path: Path, meta: Mapping[str, Any]) -> bool:
    """Whether the file at ``path`` is this dream made before, and no more finished than ``meta``'s."""
    try:
        stored = read_manifest(path)
    except DreamError:
        return False
    made = json.loads(json.dumps(meta))  # as stored: lists, not tuples
    same = _as_made(stored) == _as_made(made) and stored.get("target") == made["target"]
    return same and (stored.get("interrupted", False) or not meta.get("interrupted", False))


def _as_made(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """A manifest's settings with the thread count it was made with where they left it to the command: a dream
    made again from its stored settings (``--from``, which names the count) is the same dream."""
    config = manifest.get("config")
    if not isinstance(config, Mapping):
        return None
    return {**config, "threads": config.get("threads") or manifest.get("threads")}


def _weights(config: RunConfig, model: DreamModel) -> dict[str, Any]:
    """The weights file a dream was made with, as its manifest names it: the file the settings give (a Ray worker
    loads a copy of it under another name), and the SHA-256 of what was loaded."""
    if model.weights is None:
        return {}
    given = config.weights or config.checkpoint
    return {"weights": {**model.weights.to_json(), **({"file": Path(given).name} if given else {})}}


def manifest(
    config: RunConfig,
    model: DreamModel,
    result: DreamResult,
    item: int,
    index: int | None,
    name: str,
    part: str | None = None,
) -> dict[str, Any]:
    """Everything needed to know and repeat how a dream was made (no times: same run, same bytes); a dream
    toward no class (``index`` ``None``: its objective reads no ``--class``) has no target, and one of
    objectives dreamed side by side says which ``part`` of them it dreamed."""
    return {
        "config": config.to_dict(),
        "target": None if index is None else {"index": index, "name": name, "item": item},
        **({"part": {"item": item, "objective": part}} if part is not None else {}),
        "model": {
            "name": model.name,
            "input_size": list(model.input_size),
            **_weights(config, model),
        },
        "size": [result.image.shape[-1], result.image.shape[-2]],  # width, height: a photo's shape, say
        "score": float(result.scores[item]),
        "steps_done": result.steps_done,
        "diverged": result.diverged,
        "threads": torch.get_num_threads(),  # the CPU threads it was dreamed with (docs/guide.md, Reproducibility)
        **({"interrupted": True} if result.interrupted else {}),
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("dreamengine", "torch", "timm", "pillow"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions
