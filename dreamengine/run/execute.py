"""Running a prepared dream: through the strategies and the ``dreamengine_run_dream`` hook, then writing its files."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from dreamengine.components import DreamJob, DreamResult
from dreamengine.engine.classes import display_name
from dreamengine.errors import DreamError, DreamInterrupted
from dreamengine.plugins import PluginHost
from dreamengine.run.batch import (
    run_items,
)
from dreamengine.run.config import RunConfig
from dreamengine.run.expressions import PerItemObjective
from dreamengine.run.outputs import write_outputs
from dreamengine.run.prepare import PreparedRun, prepare

__all__ = ["RunOutcome", "run_through_hooks", "total_steps", "execute", "dream"]


@dataclass
class RunOutcome:
    """What a run produced: the result, the files written and the name of each target."""

    result: DreamResult
    paths: list[Path]
    targets: list[str]


def execute(host: PluginHost, run: PreparedRun) -> RunOutcome:
    """Run a prepared job through the ``dreamengine_run_dream`` hook and write its files.

    Interrupted (Ctrl-C) after some steps, it writes the dream so far, at the
    asked size and marked as interrupted, and re-raises the
    :class:`~dreamengine.DreamInterrupted` with its ``paths``.
    """
    job, config = run.job, run.config
    items = run_items(config, job.objective)
    targets = [index if item.objective.uses_classes else None for index, item in zip(run.indices, items)]
    names = [
        display_name(job.model.class_names, index)
        if index is not None
        else _unclassed_name(run.start_file, item.objective_text)
        for index, item in zip(targets, items)
    ]
    parts = [item.objective_text for item in items] if isinstance(job.objective, PerItemObjective) else None
    counter = _StepCounter(job.on_step)
    job.on_step = counter
    try:
        result = run_through_hooks(host, job)
    except DreamInterrupted as stop:
        stop.result = _as_asked(stop.result, job, counter.last or stop.result.steps_done)
        if stop.result.steps_done:
            stop.paths = write_outputs(config, job.model, stop.result, targets, names, parts)
        raise
    paths = write_outputs(config, job.model, result, targets, names, parts)
    host.hook.dreamengine_run_end(config=config, result=result, paths=paths)
    return RunOutcome(result, paths, names)


def _unclassed_name(start: Path | None, objective: str) -> str:
    """What to call a dream toward no class: its objective, after the file it starts from (``cat layer:blocks.4``);
    a file the objective reads is named without its folders (``guide:blocks.4:path=flowers.jpg``)."""
    objective = re.sub(r"[^\s:=,;+*()]*[/\\]", "", objective)
    return objective if start is None else f"{start.stem} {objective}"


class _StepCounter:
    """An ``on_step`` callback that remembers the last step reported and passes it on."""

    def __init__(self, on_step: Callable[[int, torch.Tensor], None] | None) -> None:
        self.on_step = on_step
        self.last = 0

    def __call__(self, step: int, scores: torch.Tensor) -> None:
        self.last = step
        if self.on_step is not None:
            self.on_step(step, scores)


def _as_asked(partial: DreamResult, job: DreamJob, steps_done: int) -> DreamResult:
    """An interrupted strategy's inner result as the whole job's: resized to the job's size, its steps counted
    over the whole run (as the progress showed them), without the inner loop's frames."""
    image = partial.image
    if image.shape[-2:] != job.image.shape[-2:]:
        image = F.interpolate(image, size=tuple(job.image.shape[-2:]), mode="bilinear", align_corners=False)
    return replace(partial, image=image, steps_done=steps_done, frames=[], interrupted=True)


def run_through_hooks(host: PluginHost, job: DreamJob) -> DreamResult:
    """Run ``job`` with the ``dreamengine_run_dream`` hook, calling ``dreamengine_step_end`` observers if any.

    A run that diverges before its first step has nothing to keep: that is an error.
    """
    if host.hook.dreamengine_step_end.get_hookimpls():
        job.on_step = _with_step_hook(host, job, job.on_step)
    result = _nest(job.strategies, lambda inner: host.hook.dreamengine_run_dream(job=inner))(job)
    if result.diverged and result.steps_done == 0:
        raise DreamError(result.diverged)
    return result


def _nest(strategies, loop: Callable[[DreamJob], DreamResult]) -> Callable[[DreamJob], DreamResult]:
    """``loop`` wrapped in each strategy, the first outermost."""
    for strategy in reversed(strategies):
        loop = functools.partial(strategy.run, loop=loop)
    return loop


def total_steps(job: DreamJob) -> int:
    """The steps ``job`` takes under its strategies (what a progress bar counts to)."""
    steps = job.steps
    for strategy in reversed(job.strategies):
        steps = strategy.total_steps(steps)
    return steps


def dream(
    host: PluginHost, config: RunConfig, on_step: Callable[[int, torch.Tensor], None] | None = None
) -> RunOutcome:
    """Run ``config`` and write its files; returns what was made."""
    run = prepare(host, config)
    run.job.on_step = on_step
    return execute(host, run)


def _with_step_hook(host: PluginHost, job: DreamJob, on_step):
    def step_end(step: int, scores: torch.Tensor) -> None:
        if on_step is not None:
            on_step(step, scores)
        host.hook.dreamengine_step_end(job=job, step=step, scores=scores)

    return step_end
