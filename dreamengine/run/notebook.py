"""Dreaming from Python in one call: ``dreamengine.dream(model, "layer4:12")`` with any ``nn.Module`` (or a model's
name), keyword settings named as the command line's options; the :class:`Picture` it returns shows itself in a
notebook and saves with its settings, as ``dreamengine run`` writes them."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from dreamengine.components import Objective
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.options import parse_spec
from dreamengine.plugins import PluginHost, load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.execute import dream_names, run_through_hooks
from dreamengine.run.expression_syntax import parse_objective
from dreamengine.run.expressions import build_objective
from dreamengine.run.imaging import png_bytes, save_png, to_pil
from dreamengine.run.outputs import manifest
from dreamengine.run.own_model import wrap_module
from dreamengine.run.prepare import dream_model, load_model, prepare
from dreamengine.run.settings import resolve_settings

__all__ = ["Picture", "dream", "objective", "default_host", "as_model"]

#: The keyword arguments of :func:`dream` and ``atlas`` that describe a module from Python, not a run setting.
MODULE_KEYWORDS = ("class_names", "mean", "std", "input_size")


class Picture:
    """A dream: its image, the settings that made it (:attr:`manifest`, as a PNG of ``dreamengine run`` stores
    them), shown as itself in a notebook (``_repr_png_``), saved with :meth:`save`.

    Attributes:
        image: ``(3, height, width)`` float RGB in [0, 1].
        manifest: everything stored with it (``manifest["config"]``: the run settings).
    """

    def __init__(self, image: torch.Tensor, manifest: dict[str, Any]) -> None:
        self.image = image.detach().cpu()
        self.manifest = manifest

    @property
    def config(self) -> RunConfig:
        """The run settings that made it (what ``dreamengine run --from`` reads back from its file)."""
        return RunConfig().updated(self.manifest["config"], "a picture's settings")

    @property
    def score(self) -> float:
        """The objective's value at the last step."""
        return float(self.manifest["score"])

    def to_pil(self) -> Image.Image:
        return to_pil(self.image)

    def save(self, path: str | os.PathLike) -> Path:
        """Write it as a PNG carrying its settings (``dreamengine info`` reads them, ``run --from`` repeats them)."""
        return save_png(self.to_pil(), Path(path), self.manifest)

    def _repr_png_(self) -> bytes:
        return png_bytes(self.to_pil(), self.manifest)

    def __repr__(self) -> str:
        height, width = self.image.shape[-2:]
        target = self.manifest.get("target") or {}
        what = target.get("name") or self.manifest["config"]["objective"]
        return f"<Picture {what!r} {width}x{height}, score {self.score:.4g}>"


@functools.cache
def default_host() -> PluginHost:
    """The built-in and installed plugins, loaded once for every call from Python."""
    return load_plugins()


def as_model(
    model: torch.nn.Module | str,
    host: PluginHost,
    settings: dict[str, Any],
    module: dict[str, Any],
) -> DreamModel:
    """The model to dream with: a :class:`DreamModel` as it is, any other module wrapped (:func:`wrap_module`,
    with ``module``'s class names, mean, std and input size), or a name (and ``settings``' weights...) loaded as
    ``--model`` loads it."""
    if isinstance(model, DreamModel):
        return model
    if isinstance(model, torch.nn.Module):
        return wrap_module(model, **{key: value for key, value in module.items() if value is not None})
    if isinstance(model, (str, os.PathLike)):
        config = RunConfig().updated({**settings, **module, "model": os.fspath(model)}, "the Python call")
        return load_model(host, config)
    raise DreamError(f"model must be a torch.nn.Module or a model's name, not {type(model).__name__}.")


def objective(text: str, *, host: PluginHost | None = None) -> Objective:
    """The objective a text spec or expression names, as ``--objective`` reads it: compose it with ``+``, ``-`` and
    ``*`` by a number; :func:`str` of it is the text a dream stores."""
    built, penalties, _ = build_objective((host or default_host()).registry, text, {})
    if penalties:
        raise DreamError(f"objective {text!r} has penalty terms: give them as regularizers (reg=...).")
    return built


def dream(
    model: torch.nn.Module | str,
    objective: str | Objective | None = None,
    *,
    host: PluginHost | None = None,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    **settings: Any,
) -> Picture | list[Picture]:
    """Dream with ``model`` toward ``objective`` in one call; nothing is written until you save.

    Args:
        model: any ``torch.nn.Module`` that maps RGB (or grayscale) pictures to logits or features, or a model's
            name as ``--model`` takes it (with ``weights=FILE``...).
        objective: an objective spec or expression (``"layer:layer4:12"``; a layer alone may drop ``layer:``,
            ``"layer4:12"``), a class of the model (``"flamingo"``, ``3``), or an :class:`Objective`;
            unset, ``settings``' ``objective`` and ``classes`` (the default: the logit of ``classes``).
        host: the plugins (default: the built-ins and the installed ones, loaded once).
        on_step: called as ``on_step(step, scores)`` after each step.
        settings: the command line's settings by name, with its defaults (``steps=300``, ``size=...``, ``seed``,
            ``reg``, ``classes``...), and for a module: ``class_names``, ``mean``, ``std``, ``input_size``;
            ``preset=NAME`` applies a preset first, as ``--preset`` does (resolved by
            :func:`~dreamengine.run.settings.resolve_settings`, as the command line's are).

    Returns:
        a :class:`Picture`, or one per dream when the batch holds several (``classes=[...]``).
    """
    host = host or default_host()
    preset = settings.pop("preset", None)
    module = {key: settings.pop(key) for key in MODULE_KEYWORDS if key in settings}
    loaded = as_model(model, host, settings, module)
    name = model if isinstance(model, (str, os.PathLike)) else loaded.name
    if objective is not None:
        settings.update(_target(host, loaded, objective))
    config = resolve_settings(
        host, preset=preset, options={**settings, "model": os.fspath(name)}, source="the Python call"
    )
    run = prepare(host, config, loaded)
    run.job.on_step = on_step
    result = run_through_hooks(host, run.job)
    targets, names, parts = dream_names(run)
    own: list[str | None] = list(parts) if parts else [None] * len(targets)
    pictures = [
        Picture(
            run.job.model.seen(result.image[item]),
            manifest(config, dream_model(run.job), result, item, index, names[item], part),
        )
        for item, (index, part) in enumerate(zip(targets, own))
    ]
    return pictures[0] if len(pictures) == 1 else pictures


def _target(host: PluginHost, model: DreamModel, target: str | int | Objective) -> dict[str, Any]:
    """The settings ``dream``'s second argument stands for: an objective, a layer (``layer4:12``), or a class."""
    if isinstance(target, Objective):
        if target.spec is None:
            raise DreamError(
                f"{target!r} has no text spec to store with the dream: build it with dreamengine.objective(TEXT), "
                "or register it (dreamengine_register_objectives)."
            )
        return {"objective": target.spec}
    text = str(target)
    if isinstance(target, int) or text.isdigit():
        return {"classes": [text], "objective": "logit"}
    names = (
        [spec.name for _, terms in parse_objective(text).parts for spec in (term.spec for term in terms)]
        if (":" in text or "*" in text)
        else []
    )
    if names and all(name in host.registry.entries["objectives"] for name in names):
        return {"objective": text}
    first = parse_spec(text).name if ":" in text else text
    if first in dict(model.net.named_modules()) and first:
        return {"objective": f"layer:{text}"}
    return {"classes": [text], "objective": "logit"}
