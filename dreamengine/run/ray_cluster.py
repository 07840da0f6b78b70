"""What the Ray executor (:mod:`~dreamengine.run.ray_executor`) stands on: importing Ray, joining or starting a
cluster, running tasks to the end, and a worker's plugin host and local copies of the files the driver shipped.

Without an address, dreamengine starts a Ray of its own on this machine, bound
to 127.0.0.1, with ``workers`` worker processes; it stops when the work ends.
Ray is an optional extra: ``pip install 'dreamengine[ray]'``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from dreamengine.errors import DreamError
from dreamengine.plugins import PluginHost, load_plugins

__all__ = [
    "LOOPBACK",
    "RayCluster",
    "RayTasks",
    "import_ray",
    "local_copy",
    "names_copy",
    "read_for_workers",
    "task_result",
    "worker_host",
]

LOOPBACK = ("127.0.0.1", "localhost")


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise DreamError("--executor ray needs Ray, an optional extra: pip install 'dreamengine[ray]'.") from None
    return ray


class RayCluster:
    """The cluster at ``address``, or a Ray of ``workers`` processes started here; checked when made (Ray
    installed, the options consistent), joined by :meth:`connect`."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        if workers is not None and (address is not None or workers < 1):
            raise DreamError("--workers (at least 1) sets the size of a Ray started here; an --address has its own.")
        if address is not None and not address.strip():
            raise DreamError(
                "--address is empty: give the head's HOST:PORT (as in 10.0.0.5:6379), or leave it out "
                "to start a Ray here."
            )
        import_ray()  # fail now, before any planning, where Ray is missing
        self.address, self.workers = address, workers

    def __repr__(self) -> str:
        return f"RayCluster(address={self.address!r}, workers={self.workers!r})"

    def connect(self, ray: Any) -> bool:
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


#: what a submission keys its pending tasks by (a study's task, an atlas's batch)
Key = TypeVar("Key")


class RayTasks:
    """What every Ray executor holds and does: the cluster, each task's CPUs and GPUs and retries, and running
    the submitted tasks to the end (cancelled and the Ray started here stopped, however the caller stops)."""

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_task: float = 1,
        gpus_per_task: float | None = None,
        max_retries: int = 3,
    ) -> None:
        self.cluster = RayCluster(address, workers)
        self.cpus_per_task, self.gpus_per_task, self.max_retries = cpus_per_task, gpus_per_task, max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(address={self.cluster.address!r}, workers={self.cluster.workers!r})"

    def _connect(self, ray: Any) -> bool:
        """Join the cluster (or start a loopback Ray); False when this process was already connected."""
        return self.cluster.connect(ray)

    def _remote(self, ray: Any, function: Callable[..., Any], device: str) -> Any:
        """``function`` as a Ray task with this executor's CPUs, retries and GPUs (one, where the cluster has
        them and ``device`` is not the CPU, unless ``gpus_per_task`` says)."""
        gpus = self.gpus_per_task
        if gpus is None:
            gpus = 1 if device != "cpu" and ray.cluster_resources().get("GPU", 0) >= 1 else 0
        return ray.remote(function).options(num_cpus=self.cpus_per_task, num_gpus=gpus, max_retries=self.max_retries)

    def _as_done(self, submit: Callable[[Any], dict[Any, Key]]) -> Iterator[tuple[Any, Any, Key]]:
        """Connect, ``submit(ray)`` the tasks (``{ref: key}``), and yield ``(ray, ref, key)`` as each finishes."""
        ray = import_ray()
        connected_here = self._connect(ray)
        pending: dict[Any, Key] = {}
        try:
            pending = submit(ray)
            while pending:
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                yield ray, ready, pending.pop(ready)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if connected_here:
                ray.shutdown()


def task_result(ray: Any, ref: Any, dreaming: str) -> Any:
    """A finished task's result; a DreamError raised on a worker comes back as itself, and workers that kept
    dying while ``dreaming`` (what the task was dreaming, for the message) as one line."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, DreamError):
            raise error.cause from None
        raise
    except ray.exceptions.WorkerCrashedError:
        raise DreamError(f"Ray workers kept dying while dreaming {dreaming}; see the Ray logs.") from None


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


def read_for_workers(path: Path) -> bytes:
    """A file's bytes, to ship to the workers, or a one-line error."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise DreamError(
            f"cannot read {str(path)!r} to send it to the Ray workers: {error.strerror or error}."
        ) from None


@functools.lru_cache(maxsize=4)
def worker_host(plugins: tuple[bool, tuple[str, ...]]) -> PluginHost:
    """This worker's plugin host, loaded with the driver's choices: entry points or not, and the plugins blocked
    (once per worker process)."""
    entry_points, blocked = plugins
    return load_plugins(entry_points=entry_points, blocked=blocked)


def local_copy(data: bytes, name: str) -> Path:
    """``data`` as the file ``name`` (its SHA-256, so equal bytes share it) in this worker's temporary folder,
    written once."""
    path = Path(tempfile.gettempdir()) / "dreamengine-files" / name
    if not path.is_file():  # written beside it, then moved into place: another task never reads half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return path


def names_copy(names: list[str]) -> Path:
    """Class names the driver read (from a file or a dataset folder that need not be on this worker) as a JSON
    list in this worker's folder of copies: what ``--class-names`` reads there."""
    data = json.dumps(names).encode()
    return local_copy(data, f"{hashlib.sha256(data).hexdigest()}.json")
