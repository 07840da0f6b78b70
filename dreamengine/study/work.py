"""What a study does with one task, wherever it runs: dream the task's cells and encode them as PNG bytes.

:class:`StudyWork` is the work an executor (:mod:`dreamengine.run.executors`:
this process, a Ray cluster, a plugin's) runs for each task; the driver,
:func:`~dreamengine.study.runner.run_study`, writes every file from the results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import torch

from dreamengine.plugins import PluginHost
from dreamengine.run.executors import HostWork
from dreamengine.run.inputs import files_read, reading_from
from dreamengine.run.own_model import read_class_names
from dreamengine.run.prepare import load_model
from dreamengine.run.ray_cluster import names_copy
from dreamengine.study.plan import Cell, Task
from dreamengine.study.render import CellOutput, render_task

__all__ = ["StudyWork"]


class StudyWork(HostWork[Task, list[CellOutput]]):
    """A task's cells, dreamt (every step count of one run) and encoded: its :class:`CellOutput` list.

    In this process the current checkpoint's model stays loaded between tasks
    (they come checkpoint by checkpoint); ``on_start(task)`` is called before
    each task and ``on_step(step, scores)`` after each of its dream steps (for
    progress bars). Neither travels to another process.
    """

    local_only: ClassVar[tuple[str, ...]] = ("_host", "_loaded", "on_start", "on_step")

    def __init__(
        self,
        host: PluginHost,
        cells: Mapping[Task, Sequence[Cell]],
        on_start: Callable[[Task], None] | None = None,
        on_step: Callable[[int, torch.Tensor], None] | None = None,
    ) -> None:
        super().__init__(host)
        self.cells = {task: list(task_cells) for task, task_cells in cells.items()}
        self.on_start, self.on_step = on_start, on_step
        given = {task_cells[0].config.class_names for task_cells in self.cells.values() if task_cells}
        self.class_names = {path: read_class_names(path) for path in given if path}  # read here, sent as values
        self._loaded: dict | None = {}
        first = next(iter(self.cells.values()), None)
        self.device = first[0].config.device if first else "cpu"

    def __repr__(self) -> str:
        return f"StudyWork({len(self.cells)} tasks)"

    def __call__(self, task: Task) -> list[CellOutput]:
        if self.on_start is not None:
            self.on_start(task)
        loaded = self._loaded or {}
        outputs, model = render_task(self.host, self.cells[task], loaded.get(task.checkpoint), self.on_step)
        self._loaded = {task.checkpoint: model}  # tasks come checkpoint by checkpoint: keep only the current model
        return outputs

    def reads(self, task: Task) -> list[str]:
        return [task.checkpoint.path, *files_read(self.host.registry, self.cells[task][0].config)]

    def describe(self, task: Task) -> str:
        return f"{task.target}, {task.checkpoint.run} {task.checkpoint.label}"

    def elsewhere(self, task: Task, copies: Mapping[str, str], threads: float) -> list[CellOutput]:
        """The task's cells from copies of its row's file (a checkpoint or a weights file) and other files, and the
        class names as the driver read them (a file or a dataset folder need not be there); the manifests keep the
        driver's paths."""
        torch.set_num_threads(max(1, int(threads)))
        cells, row = self.cells[task], task.checkpoint
        config = cells[0].config
        local = {"weights" if row.weights else "checkpoint": copies[row.path]}
        if config.class_names:
            local["class_names"] = str(names_copy(self.class_names[config.class_names]))
        config = reading_from(config.updated(local, "the Ray worker"), copies)
        outputs, _ = render_task(self.host, cells, load_model(self.host, config), config=config)
        return outputs
