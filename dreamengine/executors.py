"""Where a study's tasks run: in this process, or on a Ray cluster (``dreamengine study --executor``).

An executor turns tasks into their cells' PNG bytes (:func:`~dreamengine.study.render_task`,
a pure function) and hands them back as they finish; the driver,
:func:`~dreamengine.study.run_study`, writes every file, so every executor
writes the same way and its workers need no shared filesystem.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Protocol

import torch

from .errors import DreamError
from .plugins import PluginHost
from .study import Cell, CellOutput, Task, render_task

__all__ = ["EXECUTORS", "Finished", "Executor", "LocalExecutor", "make_executor"]

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

    def __init__(self, on_start: Callable[[Task], None] | None = None,
                 on_step: Callable[[int, torch.Tensor], None] | None = None) -> None:
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


def make_executor(name: str, *, address: str | None = None, workers: int | None = None,
                  on_start: Callable[[Task], None] | None = None,
                  on_step: Callable[[int, torch.Tensor], None] | None = None) -> Executor:
    """The executor ``dreamengine study --executor NAME`` uses (``address`` and ``workers`` are Ray's)."""
    if name == "local":
        if address is not None or workers is not None:
            raise DreamError("--address and --workers are for --executor ray.")
        return LocalExecutor(on_start, on_step)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=address, workers=workers)
    raise DreamError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}.")
