"""Run a study's tasks on a Ray cluster (``dreamengine study --executor ray [--address ADDRESS]``).

Each task (one dream run filling a row of step counts) is a Ray task asking for
``num_cpus`` and, where the cluster has GPUs and the study's device is not
``cpu``, one GPU. The bytes of each checkpoint and of every other file the
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

import functools
import hashlib
import os
import socket
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dreamengine.errors import DreamError
from dreamengine.plugins import PluginHost, load_plugins
from dreamengine.run.imaging import write_atomic
from dreamengine.run.inputs import files_read, reading_from
from dreamengine.run.prepare import load_model
from dreamengine.study.plan import Cell, Task
from dreamengine.study.render import CellOutput, render_task

if TYPE_CHECKING:
    from dreamengine.study.executors import Finished

__all__ = ["RayExecutor", "import_ray"]

LOOPBACK = ("127.0.0.1", "localhost")


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise DreamError("--executor ray needs Ray, an optional extra: pip install 'dreamengine[ray]'.") from None
    return ray


class RayExecutor:
    """Tasks as Ray tasks on the cluster at ``address``, or on a Ray of ``workers`` processes started here."""

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_task: float = 1,
        gpus_per_task: float | None = None,
        max_retries: int = 3,
    ) -> None:
        if workers is not None and (address is not None or workers < 1):
            raise DreamError("--workers (at least 1) sets the size of a Ray started here; an --address has its own.")
        if address is not None and not address.strip():
            raise DreamError(
                "--address is empty: give the head's HOST:PORT (as in 10.0.0.5:6379), or leave it out "
                "to start a Ray here."
            )
        import_ray()  # fail now, before any planning, where Ray is missing
        self.address, self.workers = address, workers
        self.cpus_per_task, self.gpus_per_task, self.max_retries = cpus_per_task, gpus_per_task, max_retries

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, workers={self.workers!r})"

    def run(self, host: PluginHost, work: Mapping[Task, Sequence[Cell]]) -> Finished:
        if not work:
            return
        ray = import_ray()
        connected_here = self._connect(ray)
        pending: dict[Any, Task] = {}
        try:
            pending = self._submit(ray, host, work)
            while pending:
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                task = pending.pop(ready)
                yield task, _result(ray, ready, task)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if connected_here:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join the cluster (or start a loopback Ray); False when this process was already connected."""
        if ray.is_initialized():
            return False
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if self.address is None or self.address.rpartition(":")[0] in LOOPBACK:
            _keep_loopback()
        if self.address is not None:
            _check_reachable(self.address)
        try:
            if self.address is None:
                ray.init(
                    address="local",
                    _node_ip_address="127.0.0.1",
                    num_cpus=self.workers or os.cpu_count(),
                    include_dashboard=False,
                    log_to_driver=False,
                )
            else:
                ray.init(address=self.address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"reach the Ray cluster at {self.address}" if self.address else "start Ray here"
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise DreamError(f"cannot {where}: {first}") from None
        return True

    def _submit(self, ray: Any, host: PluginHost, work: Mapping[Task, Sequence[Cell]]) -> dict[Any, Task]:
        gpus = self.gpus_per_task
        if gpus is None:
            device = next(iter(work.values()))[0].config.device
            gpus = 1 if device != "cpu" and ray.cluster_resources().get("GPU", 0) >= 1 else 0
        remote = ray.remote(_dream_cells).options(
            num_cpus=self.cpus_per_task, num_gpus=gpus, max_retries=self.max_retries
        )
        plugins = (host.entry_points, host.blocked)  # workers load the plugins the driver chose
        shipped: dict[Path, tuple[Any, str]] = {}  # each file the tasks read: in the object store once, and its name

        def ship(path: Path) -> tuple[Any, str]:
            if path not in shipped:
                data = _read(path)
                shipped[path] = ray.put(data), f"{hashlib.sha256(data).hexdigest()}{path.suffix}"
            return shipped[path]

        pending = {}
        for task, cells in work.items():
            files = {text: ship(Path(text)) for text in files_read(host.registry, cells[0].config)}
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


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds when nothing listens at a ``HOST:PORT`` (or ``ray://HOST:PORT``) address, where
    ``ray.init`` would wait for minutes; other forms (``auto``) are left to Ray."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DreamError(
            f"cannot reach the Ray cluster at {address}: nothing answers there ({reason.lower()}). "
            "Start its head with `ray start --head` on that machine, or check --address."
        ) from None


def _keep_loopback() -> None:
    """Keep Ray on 127.0.0.1: on Linux it replaces a loopback address by the machine's routable one unless
    cluster mode is off, as it is on macOS and Windows (set before Ray reads it, and where it has already)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


def _result(ray: Any, ref: Any, task: Task) -> list[CellOutput]:
    """A task's outputs; a DreamError raised on a worker comes back as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, DreamError):
            raise error.cause from None
        raise
    except ray.exceptions.WorkerCrashedError:
        raise DreamError(
            f"Ray workers kept dying while dreaming {task.target}, {task.checkpoint.run} epoch "
            f"{task.checkpoint.epoch}; see the Ray logs."
        ) from None


def _dream_cells(
    plugins: tuple[bool, tuple[str, ...]],
    cells: list[Cell],
    checkpoint: bytes,
    files: list[tuple[str, str]],
    threads: float,
    *contents: bytes,
) -> list[CellOutput]:
    """The Ray task: one task's cells, from the bytes of its checkpoint and of the other files it reads (not
    their paths, which are the driver's): ``files`` holds each file's text in the settings and its local name
    (its SHA-256 and suffix), ``contents`` their bytes, in order. The manifests keep the driver's paths."""
    torch.set_num_threads(max(1, int(threads)))
    host = _host(plugins)
    local = {"checkpoint": str(_local_copy(checkpoint, f"{cells[0].task.checkpoint.sha256}.pt"))}
    copies = {text: str(_local_copy(data, name)) for (text, name), data in zip(files, contents, strict=True)}
    config = reading_from(cells[0].config.updated(local, "the Ray worker"), copies)
    outputs, _ = render_task(host, cells, load_model(host, config), config=config)
    return outputs


def _read(path: Path) -> bytes:
    """A file's bytes, to ship to the workers, or a one-line error."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise DreamError(
            f"cannot read {str(path)!r} to send it to the Ray workers: {error.strerror or error}."
        ) from None


@functools.lru_cache(maxsize=4)
def _host(plugins: tuple[bool, tuple[str, ...]]) -> PluginHost:
    """This worker's plugin host, loaded with the driver's choices: entry points or not, and the plugins blocked
    (once per worker process)."""
    entry_points, blocked = plugins
    return load_plugins(entry_points=entry_points, blocked=blocked)


def _local_copy(data: bytes, name: str) -> Path:
    """``data`` as the file ``name`` (its SHA-256, so equal bytes share it) in this worker's temporary folder,
    written once."""
    path = Path(tempfile.gettempdir()) / "dreamengine-files" / name
    if not path.is_file():
        write_atomic(path, lambda handle: handle.write(data))
    return path
