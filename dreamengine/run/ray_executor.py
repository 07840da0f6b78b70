"""Run tasks on a Ray cluster (``--executor ray [--address ADDRESS] [--workers N]``), a study's or an atlas's.

Each task is a Ray task asking for ``cpus_per_task`` and, where the cluster has
GPUs and the work's device is not ``cpu``, one GPU. The work goes to Ray's
object store once; so do the bytes of every file a task reads (a checkpoint, a
start photo, a guide's picture, a mask: the work's ``reads``), each file once,
and a worker dreams from its copies of them. The results come back to the
driver, which writes them as they arrive: workers need dreamengine (and the
plugins the driver loaded) installed, but no shared filesystem. A worker that
dies mid-task is replaced and the task run again (``max_retries``); a task is a
pure function of its settings, so it makes the same bytes.

Without an address, dreamengine starts a Ray of its own on this machine, bound
to 127.0.0.1, with ``workers`` worker processes; it stops when the work ends.
Ray is an optional extra: ``pip install 'dreamengine[ray]'``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dreamengine.run.ray_cluster import RayTasks, local_copy, read_for_workers, task_result
from dreamengine.run.work import Work

__all__ = ["RayExecutor"]

Task = TypeVar("Task")
Result = TypeVar("Result")


class RayExecutor(RayTasks):
    """Tasks as Ray tasks on the cluster at ``address``, or on a Ray of ``workers`` processes started here."""

    def run(self, tasks: Sequence[Task], work: Work[Task, Result]) -> Iterator[tuple[Task, Result]]:
        if not tasks:
            return
        for ray, ref, task in self._as_done(lambda ray: self._submit(ray, tasks, work)):
            yield task, task_result(ray, ref, work.describe(task))

    def _submit(self, ray: Any, tasks: Sequence[Task], work: Work[Task, Result]) -> dict[Any, Task]:
        remote = self._remote(ray, _run_task, work.device)
        shipped: dict[str, tuple[Any, str]] = {}  # each file the tasks read: in the object store once, and its name

        def ship(text: str) -> tuple[Any, str]:
            if text not in shipped:
                data = read_for_workers(Path(text))
                shipped[text] = ray.put(data), f"{hashlib.sha256(data).hexdigest()}{Path(text).suffix}"
            return shipped[text]

        work_ref = ray.put(work)
        pending = {}
        for task in tasks:
            files = {text: ship(text) for text in work.reads(task)}
            names = [(text, name) for text, (_, name) in files.items()]
            refs = [ref for ref, _ in files.values()]
            pending[remote.remote(work_ref, task, names, self.cpus_per_task, *refs)] = task
        return pending


def _run_task(
    work: Work[Task, Result], task: Task, files: list[tuple[str, str]], threads: float, *contents: bytes
) -> Result:
    """The Ray task: ``work`` of ``task``, from the bytes of the files it reads, not their paths, which are the
    driver's: ``files`` holds each file's text in the settings and its local name (its SHA-256 and suffix),
    ``contents`` their bytes, in order. What the work writes into its results keeps the driver's paths."""
    copies = {text: str(local_copy(data, name)) for (text, name), data in zip(files, contents, strict=True)}
    return work.elsewhere(task, copies, threads)
