"""Running a prepared dream: through the strategies and the ``dreamengine_run_dream`` hook, then writing its files.

:func:`run_through_hooks` then :func:`~dreamengine.run.observers.run_ended` is the path every dream takes, with the
same hooks: a run (:func:`execute`), and each study cell (dreamed by :mod:`dreamengine.study.render`, ended by the
study's driver once it has written the cell).
"""

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
from dreamengine.run.observers import HookFailed, StepObserver, run_ended
from dreamengine.run.outputs import write_outputs
from dreamengine.run.prepare import PreparedRun, dream_model, prepare

__all__ = ["RunOutcome", "run_through_hooks", "total_steps", "execute", "dream"]


@dataclass
class RunOutcome:
    """What a run produced: the result, the files written and the name of each target."""

    result: DreamResult
    paths: list[Path]
    targets: list[str]


def execute(host: PluginHost, run: PreparedRun) -> RunOutcome:
    """Run a prepared job through the hooks (:func:`run_through_hooks`), write its files, then call the
    ``dreamengine_run_end`` hook (:func:`~dreamengine.run.observers.run_ended`).

    Interrupted (Ctrl-C) after some steps, it writes the dream so far, at the
    asked size and marked as interrupted, and re-raises the
    :class:`~dreamengine.DreamInterrupted` with its ``paths``. Stopped by a
    plugin whose ``dreamengine_step_end`` raised, it writes the dream so far the
    same way and raises :class:`~dreamengine.run.observers.HookFailed` naming the plugin and the files.
    """
    job, config = run.job, run.config
    targets, names, parts = dream_names(run)
    counter = _StepCounter(job.on_step)
    job.on_step = counter
    try:
        result = run_through_hooks(host, job)
    except (DreamInterrupted, HookFailed) as stop:
        if stop.result is not None:
            stop.result = _as_asked(stop.result, job, counter.last or stop.result.steps_done)
            if stop.result.steps_done:
                stop.paths = write_outputs(config, dream_model(job), stop.result, targets, names, parts)
        raise
    paths = write_outputs(config, dream_model(job), result, targets, names, parts)
    run_ended(host, config, result, paths)
    return RunOutcome(result, paths, names)


def dream_names(run: PreparedRun) -> tuple[list[int | None], list[str], list[str] | None]:
    """Each dream's target class (``None``: its objective reads none), what it is called (its class, or its
    objective), and, for objectives dreamed side by side, its own objective's text."""
    items = run_items(run.config, run.job.objective)
    targets = [index if item.objective.uses_classes else None for index, item in zip(run.indices, items)]
    names = [
        display_name(run.job.model.class_names, index)
        if index is not None
        else _unclassed_name(run.start_file, item.objective_text)
        for index, item in zip(targets, items)
    ]
    parts = [item.objective_text for item in items] if isinstance(run.job.objective, PerItemObjective) else None
    return targets, names, parts


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
    image, attribution, size = partial.image, partial.attribution, tuple(job.image.shape[-2:])
    if image.shape[-2:] != size:
        image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        attribution = None if attribution is None else F.interpolate(attribution, size=size, mode="bilinear")
    return replace(partial, image=image, steps_done=steps_done, frames=[], interrupted=True, attribution=attribution)


def run_through_hooks(host: PluginHost, job: DreamJob) -> DreamResult:
    """Run ``job`` through its strategies and the ``dreamengine_run_dream`` hook, calling the
    ``dreamengine_step_end`` hook after each step if a plugin implements it: the path every dream takes.

    A run that diverges before its first step has nothing to keep: that is an error. A plugin whose
    ``dreamengine_step_end`` raises stops the dream as Ctrl-C does: a
    :class:`~dreamengine.run.observers.HookFailed` names it and carries the dream so far.
    """
    observer = None
    if host.hook.dreamengine_step_end.get_hookimpls():
        job.on_step = observer = StepObserver(host, job, job.on_step)
    try:
        result = _nest(job.strategies, lambda inner: host.hook.dreamengine_run_dream(job=inner))(job)
    except KeyboardInterrupt as stop:
        if observer is None or observer.failure is None:
            raise
        raise HookFailed(observer.failure, stop.result if isinstance(stop, DreamInterrupted) else None) from None
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
