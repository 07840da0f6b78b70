"""An atlas in one call, from Python: ``dreamengine.atlas(model, images="photos/", output="atlas")`` with any
``nn.Module`` (or a model's name), through the steps ``dreamengine atlas`` takes: the plan, the folder, the dataset
examples, the dreams, the classes and the site."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from dreamengine.atlas.classes import class_links
from dreamengine.atlas.examples import collect_examples
from dreamengine.atlas.folder import checked_images
from dreamengine.atlas.plan import plan_atlas
from dreamengine.atlas.runner import LocalAtlasExecutor, open_folder, pending_units, run_atlas
from dreamengine.atlas.site import write_site
from dreamengine.engine.model import DreamModel
from dreamengine.plugins import PluginHost
from dreamengine.run.config import RunConfig
from dreamengine.run.notebook import MODULE_KEYWORDS, as_model, default_host

__all__ = ["build_atlas", "atlas"]


def build_atlas(
    host: PluginHost,
    model: DreamModel,
    config: RunConfig,
    output: str | os.PathLike,
    *,
    layers: Sequence[str] = (),
    units: str = "all",
    batch: int | None = None,
    variants: int = 0,
    images: str | os.PathLike | None = None,
    examples: int = 8,
    negatives: bool = False,
    restart: bool = False,
) -> Path:
    """Build the atlas of ``model`` (the one ``config`` names, or a module from Python) in ``output`` in this
    process, with the options of ``dreamengine atlas``; returns the site's ``index.html``."""
    plan = plan_atlas(model, config, Path(output), layers=layers, units=units, batch=batch, variants=variants)
    checked_images(plan.output, images)  # every check before the first write
    plan = open_folder(plan, restart=restart)
    if images is not None:
        found = [layer.to_json() for layer in plan.layers]
        collect_examples(model, found, images, plan.output, k=examples, negatives=negatives, size=plan.size)
    run_atlas(host, plan, plan.batches(pending_units(plan)), LocalAtlasExecutor(model))
    class_links(model, plan.output)
    return write_site(plan.output, host)


def atlas(
    model: torch.nn.Module | str,
    *,
    images: str | os.PathLike | None = None,
    output: str | os.PathLike = "atlas",
    layers: Sequence[str] = (),
    units: str = "all",
    batch: int | None = None,
    variants: int = 0,
    examples: int = 8,
    negatives: bool = False,
    restart: bool = False,
    host: PluginHost | None = None,
    **settings: Any,
) -> Path:
    """The atlas of ``model`` (any ``nn.Module`` mapping pictures to logits or features, or a model's name) in
    ``output``, with ``images``' dataset examples; keyword settings named and defaulting as ``dreamengine
    atlas``'s options (``layers=["layer4"]``, ``units="8"``, ``steps=...``; for a module ``class_names``,
    ``mean``, ``std``, ``input_size``). A feature extractor's atlas has no class pages. Returns ``index.html``."""
    host = host or default_host()
    module = {key: settings.pop(key) for key in MODULE_KEYWORDS if key in settings}
    loaded = as_model(model, host, settings, module)
    name = model if isinstance(model, (str, os.PathLike)) else loaded.name
    config = RunConfig().updated({**settings, "model": os.fspath(name)}, "the Python call")
    return build_atlas(
        host,
        loaded,
        config,
        output,
        layers=layers,
        units=units,
        batch=batch,
        variants=variants,
        images=images,
        examples=examples,
        negatives=negatives,
        restart=restart,
    )
