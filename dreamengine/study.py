"""Studies: dream a grid of checkpoints (epochs) x dream steps x classes [x objective x blur x seed].

The report's "visualizer for combinations of number of training epochs and number
of dream steps". Every cell is a pure function of its settings and seed: one
:class:`~dreamengine.config.RunConfig`. Cells that differ only in their step count
share one dream run (a 2000-step dream passes through steps 200, 500 and 1000 on
its way, with the same random draws), so a *task* -- one run that fills a row of
step counts -- is the unit of work, and each cell it writes is byte-for-byte what
``dreamengine run`` makes with that cell's settings.

A task is rendered by a pure function (:func:`render_task`: settings in, PNG
bytes out) wherever an executor runs it (:mod:`dreamengine.executors`); the
driver, :func:`run_study`, writes each cell atomically as a PNG carrying its
manifest. Re-running a study skips every task whose cells are already on disk
with the same settings and checkpoint, so an interrupted study resumes and
loses nothing. An objective that reads no class (``layer:blocks.4``) dreams the
same picture for every class: it is dreamed once and written for each.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from .checkpoint import read_checkpoint
from .classes import display_name, name_for, resolve_class, slug
from .config import RunConfig
from .dreaming import build_job, load_model, resolve_device, run_through_hooks
from .engine import DreamResult
from .errors import DreamError
from .expressions import build_objective, objective_parts
from .imaging import MANIFEST_KEY, png_bytes, read_manifest, side_by_side, to_pil, write_atomic
from .model import DreamModel
from .options import parse_spec_list
from .outputs import manifest
from .plugins import PluginHost
from .training import checkpoints_in

if TYPE_CHECKING:
    from .executors import Executor

__all__ = ["REPORT_STEPS", "Checkpoint", "Cell", "Task", "StudyPlan", "find_checkpoints", "blur_specs", "plan_study",
           "dream_task", "CellOutput", "render_task", "write_cell", "run_study", "same_dreams"]

#: the dream step counts the report compared
REPORT_STEPS = (200, 500, 1000, 2000)


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a training run, with what the study shows about it."""

    run: str
    epoch: int
    path: str
    val_accuracy: float | None
    sha256: str


@dataclass(frozen=True)
class Cell:
    """One dream of the study, and where its files go."""

    task: Task
    steps: int
    config: RunConfig
    path: Path

    @property
    def side_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-side.png")

    def is_done(self) -> bool:
        """True when the cell's PNG exists with this cell's exact settings and checkpoint."""
        if not (self.path.is_file() and self.side_path.is_file()):
            return False
        try:
            stored = read_manifest(self.path)
        except DreamError:
            return False
        return stored.get("config") == self.config.to_dict() and stored.get("study") == self.task.key()


@dataclass(frozen=True)
class Task:
    """The cells that share one dream run: all step counts of one checkpoint, class, objective, blur and seed."""

    checkpoint: Checkpoint
    target: str
    objective: str
    blur: str
    seed: int

    def key(self) -> dict[str, Any]:
        """The task's coordinates in the study (stored in each cell's manifest)."""
        c = self.checkpoint
        return {"run": c.run, "epoch": c.epoch, "checkpoint_sha256": c.sha256, "class": self.target,
                "objective": self.objective, "blur": self.blur, "seed": self.seed, "val_accuracy": c.val_accuracy}

    def grid(self) -> tuple[str, str, str, str, int]:
        """The contact sheet this task belongs to."""
        return self.checkpoint.run, self.target, self.objective, self.blur, self.seed


@dataclass
class StudyPlan:
    """Every cell of a study, grouped into tasks."""

    output: Path
    steps: list[int]
    checkpoints: list[Checkpoint]
    tasks: dict[Task, list[Cell]] = field(default_factory=dict)

    @property
    def cells(self) -> list[Cell]:
        return [cell for cells in self.tasks.values() for cell in cells]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_checkpoints(paths: Sequence[str], epochs: Sequence[int] | None = None) -> list[Checkpoint]:
    """Checkpoints from files and folders (a folder: its ``epoch-NNN.pt`` files; its name is the run's)."""
    found, seen = [], set()
    for text in paths:
        path = Path(text)
        files = checkpoints_in(path) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise DreamError(f"folder {text!r} holds no epoch-NNN.pt checkpoints; train some with dreamengine train.")
        for file in files:
            extra = read_checkpoint(file).get("extra", {})
            epoch = int(extra.get("epoch", len(found)))
            seen.add(epoch)
            if epochs is None or epoch in epochs:
                found.append(Checkpoint(file.parent.name or "run", epoch, str(file), extra.get("val_accuracy"),
                                        _sha256(file)))
    if not found:
        raise DreamError(f"no checkpoint is at --epochs {','.join(map(str, epochs or []))}: the checkpoints given "
                         f"are at epochs {', '.join(map(str, sorted(seen)))}.")
    return found


def blur_specs(blur: str) -> list[str]:
    """The regularizer specs for a blur setting: ``0.5`` (sigma), ``0.1-1.0`` (sigma drawn per step) or ``none``."""
    text = blur.strip().lower()
    if text in ("none", "0", "off"):
        return []
    low, dash, high = text.partition("-")
    try:
        values = [float(low)] + ([float(high)] if dash else [])
    except ValueError:
        raise DreamError(f"blur setting {blur!r} is not a sigma (0.5), a range (0.1-1.0) or 'none'.") from None
    return [f"blur:sigma={values[0]:g}" + (f":sigma_max={values[1]:g}" if dash else "")]


def _cell_config(base: RunConfig, task: Task, steps: int, path: Path) -> RunConfig:
    reg = [spec for spec in base.reg if all(s.name != "blur" for s in parse_spec_list(spec))]
    reg += blur_specs(task.blur)
    return base.updated({"checkpoint": task.checkpoint.path, "classes": [task.target], "objective": task.objective,
                         "reg": reg, "seed": task.seed, "steps": steps, "output": str(path), "save_every": 0,
                         "side_by_side": True}, "the study")


def plan_study(base: RunConfig, checkpoints: list[Checkpoint], steps: Sequence[int], classes: Sequence[str] | None,
               objectives: Sequence[str], blurs: Sequence[str], seeds: Sequence[int], output: str | Path) -> StudyPlan:
    """Lay out every cell: checkpoints x classes x objectives x blurs x seeds x steps."""
    if not steps or min(steps) < 1:
        raise DreamError("a study needs dream step counts >= 1, e.g. --steps 200,500,1000,2000.")
    for blur in blurs:
        blur_specs(blur)
    for objective in objectives:
        if len(objective_parts(objective)) > 1:
            raise DreamError(f"--objective {objective!r} names one objective per dream (separated by ';'), but "
                             "a study's cell is one dream: give each objective its own --objective, and the study "
                             "compares them.")
    output = Path(output)
    payload = read_checkpoint(checkpoints[0].path)
    names = list(payload.get("class_names") or [])
    indices = [resolve_class(c, names, int(payload["num_classes"])) for c in classes] if classes else \
        list(range(int(payload["num_classes"])))
    targets = [name_for(names, i) for i in indices]
    plan = StudyPlan(output, sorted(set(steps)), checkpoints)
    for checkpoint in checkpoints:
        for target in targets:
            for objective in objectives:
                for blur in blurs:
                    for seed in seeds:
                        task = Task(checkpoint, target, objective, blur, seed)
                        plan.tasks[task] = [_cell(base, task, n, output) for n in plan.steps]
    return plan


def _cell(base: RunConfig, task: Task, steps: int, output: Path) -> Cell:
    run, target, objective, blur, seed = task.grid()
    folder = output / "cells" / slug(run) / slug(target) / f"{slug(objective)}_blur-{slug(blur)}_seed{seed}"
    path = folder / f"epoch-{task.checkpoint.epoch:03d}_steps-{steps:05d}.png"
    return Cell(task, steps, _cell_config(base, task, steps, path), path)


def dream_task(host: PluginHost, config: RunConfig, steps: Sequence[int],
               on_step: Callable[[int, torch.Tensor], None] | None = None,
               model: DreamModel | None = None) -> tuple[dict[int, DreamResult], DreamModel]:
    """Dream ``config`` for ``max(steps)`` steps; return the result after each count in ``steps``, and the model.

    A pure function of ``config`` and ``steps``: each result equals that of a
    separate run of ``config`` with that many steps (with a strategy such as
    octaves, which shares the steps out among its stages, each count is its own run). ``model``, if given, must
    be the one ``config`` names (it saves loading it again).
    """
    if config.strategy and len(set(steps)) > 1:
        # a strategy (octaves) shares the steps out among its stages: a long run does not pass through a short one
        outcome: dict[int, DreamResult] = {}
        for count in steps:
            single, model = dream_task(host, config, [count], on_step, model)
            outcome.update(single)
        return outcome, model
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
    outcome = {}
    for count in steps:
        done = min(count, result.steps_done)
        frame = result.frames[done // job.save_every] if snapshots and done % job.save_every == 0 else result.image
        outcome[count] = DreamResult(frame, scores.get(count, result.scores), done, [],
                                     result.diverged if done < count else None)
    return outcome, model


@dataclass(frozen=True)
class CellOutput:
    """What a task returns for one of its cells: the raw dream and the raw | rescaled picture, as PNG bytes."""

    steps: int
    png: bytes
    side_png: bytes


def render_task(host: PluginHost, cells: Sequence[Cell], model: DreamModel | None = None,
                on_step: Callable[[int, torch.Tensor], None] | None = None,
                config: RunConfig | None = None) -> tuple[list[CellOutput], DreamModel]:
    """Dream one task's cells and encode them; writes nothing, so it can run anywhere.

    ``cells`` share one task (see :class:`Task`); ``model``, if given, must be
    the one their checkpoint holds; ``config``, if given, is dreamed instead
    of the cells' own settings (a Ray worker's, naming its copies of the
    driver's files), which the manifests keep. Returns each cell's PNG bytes
    (manifest included) and the model.
    """
    results, model = dream_task(host, config or cells[0].config, [cell.steps for cell in cells], on_step, model)
    settings = cells[0].config
    classes = build_objective(host.registry, settings.objective, settings.options)[0].uses_classes
    return [_encode(cell, results[cell.steps], model, classes) for cell in cells], model


def _encode(cell: Cell, result: DreamResult, model: DreamModel, classes: bool) -> CellOutput:
    """A cell's PNGs; ``classes``: whether its objective dreams the cell's class (else it has no target)."""
    index = resolve_class(cell.task.target, model.class_names, len(model.class_names))
    meta = manifest(cell.config, model, result, 0, index if classes else None, display_name(model.class_names, index))
    meta["study"] = cell.task.key()
    image = result.image[0]
    return CellOutput(cell.steps, png_bytes(to_pil(image), meta), png_bytes(side_by_side(image), meta))


def write_cell(cell: Cell, output: CellOutput) -> None:
    """Write a cell's files atomically, its raw | rescaled picture last: that marks the cell done."""
    for path, data in ((cell.path, output.png), (cell.side_path, output.side_png)):
        write_atomic(path, lambda handle, data=data: handle.write(data))


def run_study(host: PluginHost, plan: StudyPlan, executor: Executor | None = None, *,
              on_written: Callable[[Task, int, int], None] | None = None) -> int:
    """Dream every task of ``plan`` whose cells are not all done, on ``executor`` (default: this process).

    Each task's cells are written here, as soon as the task's result arrives,
    whichever executor made them; ``on_written(task, number, total)`` follows.
    A dream whose objective reads no class is made once and written for every
    class (:func:`same_dreams`). Returns how many tasks were written.
    """
    from .executors import LocalExecutor  # the executors run this module's render_task

    todo = {task: [cell for cell in cells if not cell.is_done()] for task, cells in plan.tasks.items()}
    todo = {task: cells for task, cells in todo.items() if cells}
    shared = same_dreams(host, {task: plan.tasks[task] for task in todo})
    work = {task: plan.tasks[task] for task in shared}
    written = 0
    with closing((executor or LocalExecutor()).run(host, work)) as finished:  # closed: no task left running
        for task, outputs in finished:
            by_steps = {output.steps: output for output in outputs}
            for member in shared[task]:
                for cell in todo[member]:
                    output = by_steps[cell.steps]
                    write_cell(cell, output if member == task else _restamped(output, cell))
                written += 1
                if on_written is not None:
                    on_written(member, written, len(todo))
    return written


def same_dreams(host: PluginHost, tasks: Mapping[Task, Sequence[Cell]]) -> dict[Task, list[Task]]:
    """The tasks to dream, each with the tasks its dream is written for: itself and, when its objective reads no
    class (``layer:blocks.4``), the same task of every other class, whose dream is the same picture."""
    groups: dict[Task, list[Task]] = {}
    for task, cells in tasks.items():
        settings = cells[0].config
        reads_class = build_objective(host.registry, settings.objective, settings.options)[0].uses_classes
        groups.setdefault(task if reads_class else replace(task, target=""), []).append(task)
    return {members[0]: members for members in groups.values()}


def _restamped(output: CellOutput, cell: Cell) -> CellOutput:
    """``output``, another class's cell of the same dream, with ``cell``'s settings in its manifests: what a run
    with ``cell``'s settings writes, since the dream does not depend on the class."""
    def restamp(data: bytes) -> bytes:
        picture = Image.open(io.BytesIO(data))
        meta = {**json.loads(picture.text[MANIFEST_KEY]), "config": cell.config.to_dict(), "study": cell.task.key()}
        return png_bytes(picture, meta)

    return CellOutput(output.steps, restamp(output.png), restamp(output.side_png))
