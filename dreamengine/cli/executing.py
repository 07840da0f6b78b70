"""What `study` and `atlas` share about running their tasks: the executor's options, the progress bars, and
Ctrl-C, which keeps what is done and says how to resume."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dreamengine.cli.once import once
from dreamengine.cli.output import err_console, stop_interrupted

__all__ = ["executor_options", "progress_bars", "Dreaming", "dreaming"]

Command = TypeVar("Command", bound=Callable[..., Any])


def executor_options(what: str) -> Callable[[Command], Command]:
    """``--executor``, ``--address`` and ``--workers``, for a command whose tasks are ``what`` (``the dreams``)."""

    def decorate(command: Command) -> Command:
        for option in reversed(
            (
                once(
                    "--executor",
                    default="local",
                    show_default=True,
                    help=f"Where {what} run: local (this process), ray (a Ray cluster: pip install "
                    "'dreamengine[ray]') or a plugin's executor (dreamengine list executors).",
                ),
                once(
                    "--address",
                    help="Ray cluster to join, e.g. 10.0.0.5:6379. [default: start a Ray here, on 127.0.0.1]",
                ),
                once("--workers", type=int, help="Worker processes of a Ray started here. [default: one per CPU]"),
            )
        ):
            command = option(command)
        return command

    return decorate


def progress_bars() -> Progress:
    """A progress display on standard error: what, a bar, done of all, time spent and left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )


class Dreaming:
    """Two bars: the tasks done of all (``overall``), and the steps of the dream under way in this process."""

    def __init__(self, progress: Progress, overall: Any, dream: Any) -> None:
        self.progress, self.overall, self.dream = progress, overall, dream

    def start(self, description: str) -> None:
        """A new dream begins here: its bar starts again, under ``description``."""
        self.progress.update(self.dream, completed=0, description=escape(description))

    def step(self, step: int, scores: Any = None) -> None:
        self.progress.update(self.dream, completed=step)

    def done(self) -> int:
        """How many of the tasks the overall bar counts as done."""
        return int(next(task.completed for task in self.progress.tasks if task.id == self.overall))


@contextmanager
def dreaming(
    label: str, total: int, each: str, steps: int, executor: str, interrupted: Callable[[int], str]
) -> Iterator[Dreaming]:
    """Bars for ``total`` tasks (``label`` and the executor's name on the first) of ``steps`` dream steps each
    (``each`` on the second, until the first dream starts),
    the dream's bar shown only where the dreams run here; a model of random weights is not warned about once
    per dream. Ctrl-C in the block prints ``interrupted(done)`` above the bars and exits with 130."""
    with progress_bars() as progress:
        overall = progress.add_task(f"{label} ({executor})", total=total)
        dream = progress.add_task(each, total=steps, visible=executor == "local")
        bars = Dreaming(progress, overall, dream)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*random weights.*")  # said before the dreams
                yield bars
        except KeyboardInterrupt:
            stop_interrupted(interrupted(bars.done()), on=progress.console)
        progress.update(dream, visible=False)  # the last dream's bar (or, if none ran, an empty one) is done with
