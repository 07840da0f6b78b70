"""An atlas, step by step, written once: the plan, every check, the folder, the dataset examples, the dreams, the
classes and the site. :func:`build_atlas` runs them for ``dreamengine atlas`` and for the Python call
``dreamengine.atlas(model, images="photos/", output="atlas")`` (any ``nn.Module``, or a model's name); what each
shows as it goes (progress bars, Ctrl-C's message) is an :class:`AtlasSteps`'s."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from dreamengine.atlas.classes import class_links
from dreamengine.atlas.defaults import DEFAULT_EXAMPLES
from dreamengine.atlas.examples import collect_examples
from dreamengine.atlas.folder import checked_images
from dreamengine.atlas.plan import AtlasPlan, Batch, plan_atlas
from dreamengine.atlas.runner import open_folder, pending_units, run_atlas
from dreamengine.atlas.site import write_site
from dreamengine.engine.model import DreamModel
from dreamengine.plugins import PluginHost
from dreamengine.run.config import RunConfig
from dreamengine.run.executors import Executor
from dreamengine.run.notebook import MODULE_KEYWORDS, as_model, default_host
from dreamengine.run.settings import resolve_settings

__all__ = ["AtlasSteps", "Quiet", "Dreams", "Built", "build_atlas", "atlas"]


@dataclass
class Dreams:
    """What the dreams' step calls as they go: before a batch dreamt here, after each of its dream steps, and
    after each batch is written (wherever it was dreamt)."""

    on_start: Callable[[Batch], None] | None = None
    on_step: Callable[[int, torch.Tensor], None] | None = None
    on_written: Callable[[Batch], None] | None = None


class AtlasSteps(Protocol):
    """What :func:`build_atlas` shows of each step (the command's: spinners, the dry run's table, progress bars,
    Ctrl-C's message); :class:`Quiet`, Python's, shows nothing."""

    def planning(self) -> ContextManager[Any]:
        """Around planning the layers and units."""
        ...

    def planned(self, plan: AtlasPlan, todo: dict[str, list[int]], batches: list[Batch], files: list[Path]) -> None:
        """Every check passed: ``todo``, the units not yet done, in ``batches``; ``files``, the dataset's images."""
        ...

    def examples(self) -> ContextManager[Callable[[int, int | None], None] | None]:
        """Around the pass over the dataset's images; gives what is called with ``(done, total)`` as it reads."""
        ...

    def dreams(self, plan: AtlasPlan, batches: list[Batch]) -> ContextManager[Dreams]:
        """Around dreaming ``batches``; gives the callbacks of the dreams."""
        ...

    def site(self) -> ContextManager[Any]:
        """Around linking the units to the classes and writing the pages."""
        ...


class Quiet:
    """The steps of an atlas built from Python: nothing shown."""

    def planning(self) -> ContextManager[Any]:
        return nullcontext()

    def planned(self, plan: AtlasPlan, todo: dict[str, list[int]], batches: list[Batch], files: list[Path]) -> None:
        pass

    def examples(self) -> ContextManager[Callable[[int, int | None], None] | None]:
        return nullcontext()

    def dreams(self, plan: AtlasPlan, batches: list[Batch]) -> ContextManager[Dreams]:
        return nullcontext(Dreams())

    def site(self) -> ContextManager[Any]:
        return nullcontext()


@dataclass(frozen=True)
class Built:
    """What :func:`build_atlas` did: the plan (with the layers the folder held before), the units dreamt now, the
    dataset's images read (0 without ``images``), and the site's ``index.html`` (None after a dry run)."""

    plan: AtlasPlan
    made: int
    read: int
    index: Path | None


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
    examples: int = DEFAULT_EXAMPLES,
    negatives: bool = False,
    restart: bool = False,
    executor: Executor | None = None,
    dry_run: bool = False,
    steps: AtlasSteps | None = None,
) -> Built:
    """Build the atlas of ``model`` (the one ``config`` names, or a module from Python) in ``output``, with the
    options of ``dreamengine atlas``, its batches dreamt on ``executor`` (default: this process).

    Every check comes before the first write; a ``dry_run`` stops after them, having written nothing.
    """
    steps = steps or Quiet()
    with steps.planning():
        plan = plan_atlas(model, config, Path(output), layers=layers, units=units, batch=batch, variants=variants)
    files = checked_images(plan.output, images)  # every check before the first write
    plan = open_folder(plan, restart=restart, write=not dry_run)
    todo = pending_units(plan)
    batches = plan.batches(todo)
    steps.planned(plan, todo, batches, files)
    if dry_run:
        return Built(plan, 0, 0, None)
    read = 0
    if images is not None:
        with steps.examples() as on_progress:
            found = [layer.to_json() for layer in plan.layers]
            collected = collect_examples(
                model,
                found,
                images,
                plan.output,
                k=examples,
                negatives=negatives,
                on_progress=on_progress,
                size=plan.size,
            )
        read = int(collected["count"])
    with steps.dreams(plan, batches) as dreams:
        made = run_atlas(
            host,
            plan,
            batches,
            executor,
            model=model,
            on_start=dreams.on_start,
            on_step=dreams.on_step,
            on_written=dreams.on_written,
        )
    with steps.site():
        class_links(model, plan.output)
        index = write_site(plan.output, host)
    return Built(plan, made, read, index)


def atlas(
    model: torch.nn.Module | str,
    *,
    images: str | os.PathLike | None = None,
    output: str | os.PathLike = "atlas",
    layers: Sequence[str] = (),
    units: str = "all",
    batch: int | None = None,
    variants: int = 0,
    examples: int = DEFAULT_EXAMPLES,
    negatives: bool = False,
    restart: bool = False,
    host: PluginHost | None = None,
    **settings: Any,
) -> Path:
    """The atlas of ``model`` (any ``nn.Module`` mapping pictures to logits or features, or a model's name) in
    ``output``, with ``images``' dataset examples; keyword settings named and defaulting as ``dreamengine
    atlas``'s options (``layers=["layer4"]``, ``units="8"``, ``steps=...``; for a module ``class_names``,
    ``mean``, ``std``, ``input_size``; ``preset=NAME`` applies a preset first, as ``--preset`` does). A feature
    extractor's atlas has no class pages. Returns ``index.html``."""
    host = host or default_host()
    preset = settings.pop("preset", None)
    module = {key: settings.pop(key) for key in MODULE_KEYWORDS if key in settings}
    loaded = as_model(model, host, settings, module)
    name = model if isinstance(model, (str, os.PathLike)) else loaded.name
    config = resolve_settings(
        host, preset=preset, options={**settings, "model": os.fspath(name)}, source="the Python call"
    )
    built = build_atlas(
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
    assert built.index is not None  # not a dry run
    return built.index
