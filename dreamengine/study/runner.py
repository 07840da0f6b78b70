"""Running a study: every task not yet on disk, on an executor (:mod:`dreamengine.run.executors`), each cell
written as its task finishes.

Re-running a study skips every task whose cells are already on disk with the
same settings and checkpoint, so an interrupted study resumes and loses nothing.
An objective that reads no class (``layer:blocks.4``) dreams the same picture
for every class: it is dreamed once and written for each. Every cell written is
a finished dream: the ``dreamengine_run_end`` hook is called for it, here, once its files are.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import torch
from PIL import Image

from dreamengine.plugins import PluginHost
from dreamengine.run.executors import Executor, LocalExecutor, finished
from dreamengine.run.expressions import build_objective
from dreamengine.run.imaging import (
    MANIFEST_KEY,
    png_bytes,
)
from dreamengine.run.observers import run_ended
from dreamengine.study.plan import Cell, StudyPlan, Task
from dreamengine.study.render import CellOutput, write_cell
from dreamengine.study.work import StudyWork

__all__ = ["run_study", "same_dreams"]


def run_study(
    host: PluginHost,
    plan: StudyPlan,
    executor: Executor | None = None,
    *,
    on_written: Callable[[Task, int, int], None] | None = None,
    on_start: Callable[[Task], None] | None = None,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> int:
    """Dream every task of ``plan`` whose cells are not all done, on ``executor`` (default: this process).

    ``on_start(task)`` and ``on_step(step, scores)`` are called for the tasks dreamt in this process (for
    progress bars; see :class:`~dreamengine.study.work.StudyWork`).

    Each task's cells are written here, as soon as the task's result arrives,
    whichever executor made them; the ``dreamengine_run_end`` hook follows for each cell (with its settings,
    its result and its two files), then ``on_written(task, number, total)``.
    A dream whose objective reads no class is made once and written for every
    class (:func:`same_dreams`). Returns how many tasks were written.
    """
    todo = {task: [cell for cell in cells if not cell.is_done()] for task, cells in plan.tasks.items()}
    todo = {task: cells for task, cells in todo.items() if cells}
    shared = same_dreams(host, {task: plan.tasks[task] for task in todo})
    work = StudyWork(host, {task: plan.tasks[task] for task in shared}, on_start, on_step)
    written, folder = 0, plan.folder()
    with finished(executor or LocalExecutor(), list(work.cells), work) as results:  # closed: no task left running
        for task, outputs in results:
            by_steps = {output.steps: output for output in outputs}
            for member in shared[task]:
                for cell in todo[member]:
                    output = by_steps[cell.steps]
                    write_cell(folder, cell, output if member == task else _restamped(output, cell))
                    run_ended(host, cell.config, output.result, [cell.path, cell.side_path])
                written += 1
                if on_written is not None:
                    on_written(member, written, len(todo))
    return written


def same_dreams(host: PluginHost, tasks: Mapping[Task, Sequence[Cell]]) -> dict[Task, list[Task]]:
    """The tasks to dream, each with the tasks its dream is written for: itself and, when its objective reads no
    class (``layer:blocks.4``), the same task of every other class, whose dream is the same picture."""
    groups: dict[Task, list[Task]] = {}
    reads_class: dict[str, bool] = {}  # by objective and options: each objective is built once, not once per task
    for task, cells in tasks.items():
        settings = cells[0].config
        key = json.dumps([settings.objective, settings.options], sort_keys=True)
        if key not in reads_class:
            reads_class[key] = build_objective(host.registry, settings.objective, settings.options)[0].uses_classes
        groups.setdefault(task if reads_class[key] else replace(task, target=""), []).append(task)
    return {members[0]: members for members in groups.values()}


def _restamped(output: CellOutput, cell: Cell) -> CellOutput:
    """``output``, another class's cell of the same dream, with ``cell``'s settings in its manifests: what a run
    with ``cell``'s settings writes, since the dream does not depend on the class."""

    def restamp(data: bytes) -> bytes:
        picture = Image.open(io.BytesIO(data))
        meta = {**json.loads(picture.text[MANIFEST_KEY]), "config": cell.config.to_dict(), "study": cell.task.key()}
        return png_bytes(picture, meta)

    return CellOutput(output.steps, restamp(output.png), restamp(output.side_png), output.result)
