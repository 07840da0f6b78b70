"""Planning a study: a grid of checkpoints (epochs) x dream steps x classes [x objective x blur x seed].

A row is a dreamengine checkpoint, or a weights file of the architecture ``--model`` names (docs/models.md), each
named in its cells' settings and manifests with its SHA-256.

The report's "visualizer for combinations of number of training epochs and number
of dream steps". Every cell is a pure function of its settings and seed: one
:class:`~dreamengine.RunConfig`. Cells that differ only in their step count
share one dream run (a 2000-step dream passes through steps 200, 500 and 1000 on
its way, with the same random draws), so a *task* -- one run that fills a row of
step counts -- is the unit of work, and each cell it writes is byte-for-byte what
``dreamengine run`` makes with that cell's settings. Dreaming the tasks is
:mod:`dreamengine.study.render`'s; running a whole study, :mod:`dreamengine.study.runner`'s.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dreamengine.engine.checkpoint import checkpoints_in, is_checkpoint, read_checkpoint
from dreamengine.engine.classes import name_for, resolve_class, slug
from dreamengine.errors import DreamError
from dreamengine.plugins import PluginHost
from dreamengine.run.config import RunConfig
from dreamengine.run.expression_syntax import parse_objective
from dreamengine.run.imaging import (
    read_manifest,
)
from dreamengine.run.owned import OwnedFolder
from dreamengine.run.prepare import load_model
from dreamengine.study.defaults import REPORT_STEPS

__all__ = [
    "class_folders",
    "REPORT_STEPS",
    "Checkpoint",
    "Cell",
    "Task",
    "StudyPlan",
    "study_folder",
    "find_checkpoints",
    "blur_specs",
    "plan_study",
]


@dataclass(frozen=True)
class Checkpoint:
    """One row of the study: a checkpoint of a training run, with what the study shows about it; or, with
    ``weights``, a weights file of the architecture the study's settings name (``--model``)."""

    run: str
    epoch: int
    path: str
    val_accuracy: float | None
    sha256: str
    weights: bool = False

    @property
    def label(self) -> str:
        """What the row is called on the contact sheet and the page: ``epoch N``, or a weights file's name."""
        return Path(self.path).name if self.weights else f"epoch {self.epoch}"

    def settings(self) -> dict[str, str | None]:
        """The run settings that make a dream read this row's weights."""
        return (
            {"checkpoint": None, "weights": self.path} if self.weights else {"checkpoint": self.path, "weights": None}
        )


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
        source = (
            {"weights_file": Path(c.path).name, "weights_sha256": c.sha256}
            if c.weights
            else {"checkpoint_sha256": c.sha256}
        )
        return {
            "run": c.run,
            "epoch": c.epoch,
            **source,
            "class": self.target,
            "objective": self.objective,
            "blur": self.blur,
            "seed": self.seed,
            "val_accuracy": c.val_accuracy,
        }

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
    #: Each class's folder name (see :func:`class_folders`).
    folders: dict[str, str] = field(default_factory=dict)

    @property
    def cells(self) -> list[Cell]:
        return [cell for cells in self.tasks.values() for cell in cells]

    def folder(self) -> OwnedFolder:
        """The study's folder (:func:`study_folder`)."""
        return study_folder(self.output)

    def relative(self, path: Path) -> str:
        """``path``, a file of the study, relative to its folder with ``/``."""
        return path.relative_to(self.output).as_posix()


def study_folder(output: str | Path) -> OwnedFolder:
    """The study folder ``output``: written only while it is missing, empty or a study's, and only through the list
    of what the study wrote there (:class:`~dreamengine.run.owned.OwnedFolder`)."""
    return OwnedFolder(Path(output), "study")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_checkpoints(
    paths: Sequence[str], epochs: Sequence[int] | None = None, *, model: str | None = None
) -> list[Checkpoint]:
    """The study's rows from files and folders: dreamengine checkpoints (a folder: its ``epoch-NNN.pt`` files; its
    name is the run's) and, where ``model`` names an architecture (``--model``), weights files of it, each a row at
    the epoch the last number in its name gives (else its place among the rows), labelled by its name (a folder
    without checkpoints: its weights files, in the order of those numbers)."""
    found: list[Checkpoint] = []
    seen: set[int] = set()
    for text in paths:
        path = Path(text)
        files = checkpoints_in(path) if path.is_dir() else [path]
        if path.is_dir() and not files and model is not None:
            files = _weights_in(path)
        if path.is_dir() and not files:
            also = f" or weights files ({', '.join(WEIGHTS_SUFFIXES)})" if model is not None else ""
            raise DreamError(
                f"folder {text!r} holds no epoch-NNN.pt checkpoints{also}; train some with dreamengine train."
            )
        for file in files:
            row = _row(file, len(found), model)
            seen.add(row.epoch)
            if (epochs is None or row.epoch in epochs) and row not in found:
                found.append(row)
    if not found:
        raise DreamError(
            f"no checkpoint is at --epochs {','.join(map(str, epochs or []))}: the checkpoints given "
            f"are at epochs {', '.join(map(str, sorted(seen)))}."
        )
    _check_rows(found)
    return found


#: The suffixes of the weights files a study finds in a folder (``--model ARCH FOLDER``).
WEIGHTS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


def _weights_in(folder: Path) -> list[Path]:
    """The weights files in ``folder``, in the order of the last number in their names (those without one last)."""
    files = [path for path in folder.iterdir() if path.is_file() and path.suffix in WEIGHTS_SUFFIXES]

    def order(path: Path) -> tuple[float, str]:
        numbers = re.findall(r"\d+", path.stem)
        return (int(numbers[-1]) if numbers else float("inf")), path.name

    return sorted(files, key=order)


def _row(file: Path, place: int, model: str | None) -> Checkpoint:
    """The row ``file`` makes: a dreamengine checkpoint, or (with ``model``) a weights file of that architecture."""
    if model is None or is_checkpoint(file):
        try:
            extra = read_checkpoint(file).get("extra", {})
        except DreamError as error:
            if model is None and file.is_file() and not is_checkpoint(file):
                raise DreamError(
                    f"{error} A weights file of an architecture needs --model ARCH, as in "
                    f"dreamengine study --model resnet50 {file}."
                ) from None
            raise
        epoch = int(extra.get("epoch", place))
        return Checkpoint(file.parent.name or "run", epoch, str(file), extra.get("val_accuracy"), _sha256(file))
    if not file.is_file():
        raise DreamError(f"weights file {str(file)!r} does not exist.")
    numbers = re.findall(r"\d+", file.stem)
    epoch = int(numbers[-1]) if numbers else place
    return Checkpoint(file.parent.name or "run", epoch, str(file), None, _sha256(file), weights=True)


def _check_rows(rows: Sequence[Checkpoint]) -> None:
    """Refuse two rows of one run at one epoch (their cells would take each other's place), in one line."""
    taken: dict[tuple[str, int], Checkpoint] = {}
    for row in rows:
        other = taken.setdefault((row.run, row.epoch), row)
        if other is not row:
            raise DreamError(
                f"{other.path} and {row.path} are both run {row.run!r} at epoch {row.epoch}: a run has one row per "
                "epoch. Number the files (epoch1.safetensors, epoch2.safetensors), or put each run in a folder "
                "of its own."
            )


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
    reg = [str(spec) for spec in base.specs.reg if spec.name != "blur"]
    reg += blur_specs(task.blur)
    return base.updated(
        {
            **task.checkpoint.settings(),
            "classes": [task.target],
            "objective": task.objective,
            "reg": reg,
            "seed": task.seed,
            "steps": steps,
            "output": str(path),
            "save_every": 0,
            "side_by_side": True,
        },
        "the study",
    )


def plan_study(
    base: RunConfig,
    checkpoints: list[Checkpoint],
    steps: Sequence[int],
    classes: Sequence[str] | None,
    objectives: Sequence[str],
    blurs: Sequence[str],
    seeds: Sequence[int],
    output: str | Path,
    host: PluginHost | None = None,
) -> StudyPlan:
    """Lay out every cell: checkpoints x classes x objectives x blurs x seeds x steps. The classes are the first
    row's: a checkpoint's own, or, for weights files, those of the model ``base`` names with the first file's
    weights (loaded through ``host``'s plugins, which a study of weights files needs)."""
    if not steps or min(steps) < 1:
        raise DreamError("a study needs dream step counts >= 1, e.g. --steps 200,500,1000,2000.")
    for blur in blurs:
        blur_specs(blur)
    for objective in objectives:
        if len(parse_objective(objective).parts) > 1:
            raise DreamError(
                f"--objective {objective!r} names one objective per dream (separated by ';'), but "
                "a study's cell is one dream: give each objective its own --objective, and the study "
                "compares them."
            )
    output = Path(output)
    names, count = _classes(base, checkpoints[0], host)
    indices = [resolve_class(c, names, count) for c in classes] if classes else list(range(count))
    targets = [name_for(names, i) for i in indices]
    plan = StudyPlan(output, sorted(set(steps)), checkpoints, folders=class_folders(targets, indices))
    for checkpoint in checkpoints:
        for target in targets:
            for objective in objectives:
                for blur in blurs:
                    for seed in seeds:
                        task = Task(checkpoint, target, objective, blur, seed)
                        plan.tasks[task] = [_cell(base, task, n, output, plan.folders[target]) for n in plan.steps]
    return plan


def _classes(base: RunConfig, row: Checkpoint, host: PluginHost | None) -> tuple[list[str], int]:
    """The class names (empty: numbered) and the number of classes of the study's first ``row``."""
    if not row.weights:
        payload = read_checkpoint(row.path)
        return list(payload.get("class_names") or []), int(payload["num_classes"])
    if host is None:
        raise ValueError("planning a study of weights files needs the plugin host that loads their model")
    model = load_model(host, base.updated(row.settings(), "the study"))
    if not model.has_logits:
        raise DreamError(
            f"weights file {row.path!r} has no classifier (its head's tensors are not there), and a study dreams "
            "classes: give the whole network's weights."
        )
    return list(model.class_names), model.num_classes


def class_folders(targets: Sequence[str], indices: Sequence[int]) -> dict[str, str]:
    """Each class's folder (and file-name) part: its :func:`slug`, or, where classes' slugs are not all different
    (``a b`` and ``a-b``, or names of symbols only), every slug followed by its class index, so that no class's
    cells take another's place."""
    slugs = {target: slug(target) for target in targets}
    if len(set(slugs.values())) == len(slugs):
        return slugs
    return {target: f"{slugs[target]}-{index}" for target, index in zip(targets, indices)}


def _cell(base: RunConfig, task: Task, steps: int, output: Path, folder_name: str) -> Cell:
    run, target, objective, blur, seed = task.grid()
    folder = output / "cells" / slug(run) / folder_name / f"{slug(objective)}_blur-{slug(blur)}_seed{seed}"
    path = folder / f"epoch-{task.checkpoint.epoch:03d}_steps-{steps:05d}.png"
    return Cell(task, steps, _cell_config(base, task, steps, path), path)
