"""Where a study's tasks run: in this process, or on a Ray cluster (``dreamengine study --executor``).

An executor turns tasks into their cells' PNG bytes (:func:`~dreamengine.study.render.render_task`,
a pure function) and hands them back as they finish; the driver,
:func:`~dreamengine.study.runner.run_study`, writes every file, so every executor
writes the same way and its workers need no shared filesystem.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Protocol

import torch

from dreamengine.plugins import PluginHost
from dreamengine.study.plan import Cell, Task
from dreamengine.study.render import CellOutput, render_task

__all__ = ["EXECUTORS", "Finished", "Executor", "LocalExecutor"]

#: the executors ``dreamengine study --executor`` offers
EXECUTORS = ("local", "ray")

#: what an executor's ``run`` returns: each task with its cells' outputs, as it finishes (closing it stops the rest)
Finished = Generator[tuple[Task, list[CellOutput]], None, None]


class Executor(Protocol):
    """Runs a study's tasks and yields each task with its cells' outputs, in the order they finish."""

    def run(self, host: PluginHost, work: Mapping[Task, Sequence[Cell]]) -> Finished:
        """Render every task of ``work`` (all its cells, in order); yield ``(task, outputs)`` as each is done."""


class LocalExecutor:
    """One task after another in this process, keeping the current checkpoint's model loaded between tasks.

    ``on_start(task)`` is called before each task and ``on_step(step, scores)``
    after each of its dream steps (for progress bars).
    """

    def __init__(
        self, on_start: Callable[[Task], None] | None = None, on_step: Callable[[int, torch.Tensor], None] | None = None
    ) -> None:
        self.on_start = on_start
        self.on_step = on_step

    def __repr__(self) -> str:
        return "LocalExecutor()"

    def run(self, host: PluginHost, work: Mapping[Task, Sequence[Cell]]) -> Finished:
        loaded = {}
        for task, cells in work.items():
            if self.on_start is not None:
                self.on_start(task)
            outputs, model = render_task(host, cells, loaded.get(task.checkpoint), self.on_step)
            loaded = {task.checkpoint: model}  # tasks come checkpoint by checkpoint: keep only the current model
            yield task, outputs
