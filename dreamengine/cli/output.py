"""What the commands print: the consoles, warnings, counts, a status line while loading, the exit after Ctrl-C."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from dreamengine.interrupts import interrupts_held

__all__ = ["console", "counted", "err_console", "loading", "stop_interrupted", "warn"]

console = Console()
err_console = Console(stderr=True)

_shown: list[Status] = []  # the status line on screen, if any: one at a time, as rich allows one live display


@contextmanager
def loading(what: str) -> Iterator[None]:
    """Say ``loading WHAT...`` on standard error while the block runs (torch's import, a model's weights), so a
    command is never silent while it starts; a nested block changes the line's text for its duration.

    Ctrl-C is held while it runs (:func:`~dreamengine.interrupts.interrupts_held`): loading is never cut in two,
    and a Ctrl-C pressed meanwhile stops the command once it is done. Nothing is shown where standard error is not
    a terminal.
    """
    with interrupts_held(), _status_line(f"loading {escape(what)}..."):
        yield


@contextmanager
def _status_line(text: str) -> Iterator[None]:
    if _shown:
        before = _shown[0].status
        _shown[0].update(text)
        try:
            yield
        finally:
            _shown[0].update(before)
    elif not err_console.is_terminal:
        yield
    else:
        with err_console.status(text) as status:
            _shown.append(status)
            try:
                yield
            finally:
                _shown.clear()


def stop_interrupted(message: str, on: Console = err_console) -> NoReturn:
    """After Ctrl-C: say what was kept (``on`` a live display's console, to print above it) and exit with 130,
    the shell's code for a command stopped that way."""
    on.print(message, highlight=False)
    sys.exit(130)


def counted(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural unless it is one: ``1 cell``, ``2 cells``."""
    return f"{number} {noun}{'s' * (number != 1)}"


def warn(message: str) -> None:
    """Print ``message`` as one yellow warning line on standard error."""
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)
