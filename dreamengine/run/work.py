"""What is done with one task wherever it runs: the :class:`Work` an executor (:mod:`dreamengine.run.executors`)
takes. Here, apart from the executors, so that each of them (:mod:`dreamengine.run.ray_executor`) names it without
importing the module that lists them. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

__all__ = ["Work"]

Task = TypeVar("Task")
Result = TypeVar("Result")


class Work(Generic[Task, Result]):
    """What is done with one task: ``work(task)`` returns its result, writing nothing.

    A work is pickled to run elsewhere (a Ray worker); what only this process
    has (its plugin host, its progress callbacks, a loaded model) is named in
    :attr:`local_only` and left behind. The other methods tell an executor that
    runs tasks on other machines what to send and how to say what failed.
    """

    #: attributes left out when the work is pickled (set to None on the other side)
    local_only: ClassVar[tuple[str, ...]] = ()
    #: where the work dreams (``cpu`` asks a cluster for no GPU)
    device: str = "cpu"

    def __call__(self, task: Task) -> Result:
        raise NotImplementedError

    def reads(self, task: Task) -> list[str]:
        """The files ``task`` reads, as written in its settings: a machine without this one's files needs them."""
        return []

    def describe(self, task: Task) -> str:
        """What ``task`` dreams, for a message (``units 0-15 of layer 'layer1'``)."""
        return repr(task)

    def elsewhere(self, task: Task, copies: Mapping[str, str], threads: float) -> Result:
        """Run ``task`` in another process with ``threads`` CPU threads, each file of :meth:`reads` read from the
        path ``copies`` maps it to (its copy there)."""
        return self(task)

    def __getstate__(self) -> dict[str, Any]:
        return {key: None if key in self.local_only else value for key, value in self.__dict__.items()}
