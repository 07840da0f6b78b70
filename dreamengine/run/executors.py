"""Where a study's or an atlas's tasks run: one interface, the built-in executors, and choosing one by name.

An executor takes tasks and a :class:`Work`, a picklable function of one task,
and hands back ``(task, result)`` as each task finishes, in any order:
``executor.run(tasks, work)``. The study and the atlas say what a task is and
what its work makes (a task's cells as PNG bytes, a batch of units); the
driver writes every file from the results, so an executor writes nothing and
its workers need no shared filesystem. Closing the iterator an executor
returns stops the tasks still running.

The built-ins are ``local`` (one task after another in this process) and ``ray``
(:class:`~dreamengine.run.ray_executor.RayExecutor`); a plugin adds one with
``dreamengine_register_executors``. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from dreamengine.errors import DreamError
from dreamengine.hookspecs import Register, hookimpl
from dreamengine.plugins import PluginHost
from dreamengine.run.ray_cluster import worker_host
from dreamengine.run.ray_executor import RayExecutor
from dreamengine.run.work import Work

if TYPE_CHECKING:
    from dreamengine.registry import Registry

__all__ = ["Work", "HostWork", "Executor", "LocalExecutor", "make_executor", "finished", "EXECUTOR_OPTIONS"]

Task = TypeVar("Task")
Result = TypeVar("Result")

#: the options ``--executor NAME`` passes to an executor's factory, where given (``--address``, ``--workers``)
EXECUTOR_OPTIONS = ("address", "workers")


class HostWork(Work[Task, Result]):
    """A work that needs the plugins: this process's host here, the same plugins loaded again elsewhere."""

    local_only: ClassVar[tuple[str, ...]] = ("_host",)

    def __init__(self, host: PluginHost) -> None:
        self._host: PluginHost | None = host
        self.plugins = (host.entry_points, host.blocked)  # another process loads the plugins the driver chose

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            self._host = worker_host(self.plugins)
        return self._host


class Executor(Protocol):
    """Runs tasks and hands back each with its result, in the order they finish."""

    def run(self, tasks: Sequence[Task], work: Work[Task, Result]) -> Iterator[tuple[Task, Result]]:
        """Run ``work`` on every task of ``tasks``; yield ``(task, work(task))`` as each is done (closing the
        iterator stops the rest)."""
        ...


class LocalExecutor:
    """One task after another in this process (the work keeps what it loaded between tasks)."""

    def __repr__(self) -> str:
        return "LocalExecutor()"

    def run(self, tasks: Sequence[Task], work: Work[Task, Result]) -> Iterator[tuple[Task, Result]]:
        for task in tasks:
            yield task, work(task)


@contextmanager
def finished(
    executor: Executor, tasks: Sequence[Task], work: Work[Task, Result]
) -> Iterator[Iterator[tuple[Task, Result]]]:
    """``executor.run(tasks, work)``, closed when the block ends, however it ends: no task is left running."""
    found = iter(executor.run(tasks, work))
    try:
        yield found
    finally:
        close = getattr(found, "close", None)
        if close is not None:
            close()


def local() -> LocalExecutor:
    """One task after another in this process."""
    return LocalExecutor()


def ray(address: str | None = None, workers: int | None = None) -> RayExecutor:
    """Each task a Ray task, on the cluster at --address or a Ray of --workers processes started here."""
    return RayExecutor(address=address, workers=workers)


@hookimpl
def dreamengine_register_executors(register: Register) -> None:
    """Register the built-in executors: ``local`` (this process) and ``ray`` (a Ray cluster)."""
    register("local", local)
    register("ray", ray)


def make_executor(registry: Registry, name: str, *, address: str | None = None, workers: int | None = None) -> Any:
    """The executor ``--executor NAME`` makes, with ``--address`` and ``--workers`` where given (an executor that
    takes neither refuses them)."""
    entry = registry.get("executors", name)
    given = {key: value for key, value in (("address", address), ("workers", workers)) if value is not None}
    taken = {option.name for option in entry.options}
    refused = [key for key in given if key not in taken]
    if refused:
        takers = [other.name for other in registry.find("executors") if set(refused) <= {o.name for o in other.options}]
        flags = " and ".join(f"--{key}" for key in (EXECUTOR_OPTIONS if not taken & set(EXECUTOR_OPTIONS) else refused))
        where = " or ".join(f"--executor {taker}" for taker in takers) or "no executor"
        raise DreamError(f"{flags} {'is' if ' and ' not in flags else 'are'} for {where}.")
    try:
        return entry.target(**given)
    except (TypeError, ValueError) as error:
        raise DreamError(f"executor {name!r}: {error}") from error
