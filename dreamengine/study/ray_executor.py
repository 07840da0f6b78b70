"""Run a study's tasks on a Ray cluster (``dreamengine study --executor ray [--address ADDRESS]``).

Each task (one dream run filling a row of step counts) is a Ray task asking for
``num_cpus`` and, where the cluster has GPUs and the study's device is not
``cpu``, one GPU. The bytes of each row's file (a checkpoint, or a weights file
of ``--model``), of the class names (``--class-names``, a file or a dataset
folder, sent as the list it names) and of every other file the
dreams read (a start photo, a guide's picture, a mask: :mod:`dreamengine.run.inputs`)
are put in Ray's object store once and shipped to the workers with the tasks,
and the cells' PNG bytes come back to the driver, which writes them as they
arrive: workers need dreamengine (and the study's plugins) installed, but no
shared filesystem. A worker that dies mid-task is replaced and the task
retried (``max_retries``).

Without an address, dreamengine starts a Ray of its own on this machine, bound
to 127.0.0.1, with ``workers`` worker processes; it stops when the study ends.
Ray is an optional extra: ``pip install 'dreamengine[ray]'``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dreamengine.plugins import PluginHost
from dreamengine.run.inputs import files_read, reading_from
from dreamengine.run.own_model import read_class_names
from dreamengine.run.prepare import load_model
from dreamengine.run.ray_cluster import RayTasks, import_ray, local_copy, read_for_workers, task_result, worker_host
from dreamengine.study.plan import Cell, Task
from dreamengine.study.render import CellOutput, render_task

if TYPE_CHECKING:
    from dreamengine.study.executors import Finished

__all__ = ["RayExecutor", "import_ray"]


class RayExecutor(RayTasks):
    """Tasks as Ray tasks on the cluster at ``address``, or on a Ray of ``workers`` processes started here."""

    def run(self, host: PluginHost, work: Mapping[Task, Sequence[Cell]]) -> Finished:
        if not work:
            return
        for ray, ref, task in self._as_done(lambda ray: self._submit(ray, host, work)):
            yield task, _result(ray, ref, task)

    def _submit(self, ray: Any, host: PluginHost, work: Mapping[Task, Sequence[Cell]]) -> dict[Any, Task]:
        remote = self._remote(ray, _dream_cells, next(iter(work.values()))[0].config.device)
        plugins = (host.entry_points, host.blocked)  # workers load the plugins the driver chose
        shipped: dict[tuple[Path, bool], tuple[Any, str]] = {}  # each file the tasks read: stored once, and its name

        def ship(path: Path, names: bool = False) -> tuple[Any, str]:
            """A file's bytes in the object store, or (``names``) the class names a file or folder gives, as JSON."""
            if (path, names) not in shipped:
                data = json.dumps(read_class_names(path)).encode() if names else read_for_workers(path)
                suffix = ".json" if names else path.suffix
                shipped[path, names] = ray.put(data), f"{hashlib.sha256(data).hexdigest()}{suffix}"
            return shipped[path, names]

        pending = {}
        for task, cells in work.items():
            config = cells[0].config
            files = {text: ship(Path(text)) for text in files_read(host.registry, config)}
            if config.class_names:
                files[config.class_names] = ship(Path(config.class_names), names=True)
            names = [(text, name) for text, (_, name) in files.items()]
            pending[
                remote.remote(
                    plugins,
                    list(cells),
                    ship(Path(task.checkpoint.path))[0],
                    names,
                    self.cpus_per_task,
                    *(ref for ref, _ in files.values()),
                )
            ] = task
        return pending


def _result(ray: Any, ref: Any, task: Task) -> list[CellOutput]:
    """A task's outputs; a DreamError raised on a worker comes back as itself."""
    return task_result(ray, ref, f"{task.target}, {task.checkpoint.run} {task.checkpoint.label}")


def _dream_cells(
    plugins: tuple[bool, tuple[str, ...]],
    cells: list[Cell],
    checkpoint: bytes,
    files: list[tuple[str, str]],
    threads: float,
    *contents: bytes,
) -> list[CellOutput]:
    """The Ray task: one task's cells, from the bytes of its row's file (a checkpoint or a weights file) and of the
    other files it reads (not their paths, which are the driver's): ``files`` holds each file's text in the
    settings (the class names' among them) and its local name (its SHA-256 and suffix), ``contents`` their bytes,
    in order. The manifests keep the driver's paths."""
    torch.set_num_threads(max(1, int(threads)))
    host = worker_host(plugins)
    row = cells[0].task.checkpoint
    copy = str(local_copy(checkpoint, f"{row.sha256}{Path(row.path).suffix}"))
    copies = {text: str(local_copy(data, name)) for (text, name), data in zip(files, contents, strict=True)}
    config = cells[0].config
    local = {"weights" if row.weights else "checkpoint": copy}
    if config.class_names:
        local["class_names"] = copies[config.class_names]
    config = reading_from(config.updated(local, "the Ray worker"), copies)
    outputs, _ = render_task(host, cells, load_model(host, config), config=config)
    return outputs
