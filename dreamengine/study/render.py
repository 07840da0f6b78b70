"""Rendering a study's task: a pure function from settings to PNG bytes, which any executor can run.

:func:`render_task` dreams one task's cells through the same path as ``dreamengine run``
and encodes each as a PNG carrying its manifest; it writes nothing, so it runs as
well on a Ray worker as in this process. :func:`write_cell` writes a cell atomically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from dreamengine.components import DreamResult
from dreamengine.engine.classes import display_name, resolve_class
from dreamengine.engine.model import DreamModel
from dreamengine.plugins import PluginHost
from dreamengine.run.config import RunConfig
from dreamengine.run.execute import run_through_hooks
from dreamengine.run.imaging import (
    png_bytes,
    side_by_side,
    to_pil,
)
from dreamengine.run.outputs import manifest
from dreamengine.run.owned import OwnedFolder
from dreamengine.run.prepare import build_job, load_model, resolve_device
from dreamengine.study.plan import Cell

__all__ = ["TaskDreams", "dream_task", "CellOutput", "render_task", "write_cell"]


@dataclass
class TaskDreams:
    """What dreaming one task gives: the result after each of its step counts, the model, and whether its
    objective dreams the task's class (:attr:`dreamengine.Objective.uses_classes`)."""

    results: dict[int, DreamResult]
    model: DreamModel
    uses_classes: bool


def dream_task(
    host: PluginHost,
    config: RunConfig,
    steps: Sequence[int],
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    model: DreamModel | None = None,
) -> TaskDreams:
    """Dream ``config`` for ``max(steps)`` steps, through the same hooks as ``dreamengine run``
    (:func:`~dreamengine.run.execute.run_through_hooks`); return the result after each count in ``steps``.

    A pure function of ``config`` and ``steps``: each result equals that of a
    separate run of ``config`` with that many steps (with a strategy such as
    octaves, which shares the steps out among its stages, each count is its own run). ``model``, if given, must
    be the one ``config`` names (it saves loading it again). The objective is built once per run.
    """
    if config.strategy and len(set(steps)) > 1:
        # a strategy (octaves) shares the steps out among its stages: a long run does not pass through a short one
        results: dict[int, DreamResult] = {}
        single: TaskDreams | None = None
        for count in steps:
            single = dream_task(host, config, [count], on_step, model)
            results.update(single.results)
            model = single.model
        assert single is not None  # steps is never empty
        return TaskDreams(results, single.model, single.uses_classes)
    snapshots = len(set(steps)) > 1
    config = config.updated({"steps": max(steps), "save_every": math.gcd(*steps) if snapshots else 0}, "the study")
    model = model or load_model(host, config)
    job, _ = build_job(host, config, model, resolve_device(config.device))
    scores: dict[int, torch.Tensor] = {}

    def keep_scores(step: int, values: torch.Tensor) -> None:
        if step in steps:
            scores[step] = values.clone()
        if on_step is not None:
            on_step(step, values)

    job.on_step = keep_scores
    result = run_through_hooks(host, job)
    results = {}
    for count in steps:
        done = min(count, result.steps_done)
        frame = result.frames[done // job.save_every] if snapshots and done % job.save_every == 0 else result.image
        results[count] = DreamResult(
            frame, scores.get(count, result.scores), done, [], result.diverged if done < count else None
        )
    return TaskDreams(results, model, job.objective.uses_classes)


@dataclass(frozen=True)
class CellOutput:
    """What a task returns for one of its cells: the raw dream and the raw | rescaled picture, as PNG bytes, and
    the cell's result (for the ``dreamengine_run_end`` hook the driver calls once it has written them)."""

    steps: int
    png: bytes
    side_png: bytes
    result: DreamResult


def render_task(
    host: PluginHost,
    cells: Sequence[Cell],
    model: DreamModel | None = None,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    config: RunConfig | None = None,
) -> tuple[list[CellOutput], DreamModel]:
    """Dream one task's cells and encode them; writes nothing, so it can run anywhere.

    ``cells`` share one task (see :class:`Task`); ``model``, if given, must be
    the one their checkpoint holds; ``config``, if given, is dreamed instead
    of the cells' own settings (a Ray worker's, naming its copies of the
    driver's files), which the manifests keep. Returns each cell's PNG bytes
    (manifest included) and the model.
    """
    dreams = dream_task(host, config or cells[0].config, [cell.steps for cell in cells], on_step, model)
    outputs = [_encode(cell, dreams.results[cell.steps], dreams.model, dreams.uses_classes) for cell in cells]
    return outputs, dreams.model


def _encode(cell: Cell, result: DreamResult, model: DreamModel, classes: bool) -> CellOutput:
    """A cell's PNGs; ``classes``: whether its objective dreams the cell's class (else it has no target)."""
    index = resolve_class(cell.task.target, model.class_names, len(model.class_names))
    meta = manifest(cell.config, model, result, 0, index if classes else None, display_name(model.class_names, index))
    meta["study"] = cell.task.key()
    image = result.image[0]
    return CellOutput(cell.steps, png_bytes(to_pil(image), meta), png_bytes(side_by_side(image), meta), result)


def write_cell(folder: OwnedFolder, cell: Cell, output: CellOutput) -> None:
    """Write a cell's files atomically into the study's ``folder``, its raw | rescaled picture last: that marks the
    cell done."""
    for path, data in ((cell.path, output.png), (cell.side_path, output.side_png)):
        folder.write_bytes(path.relative_to(folder.root).as_posix(), data)
