"""What the commands print: the consoles, warnings, counts and the exit after Ctrl-C."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

__all__ = ["console", "counted", "err_console", "stop_interrupted", "warn"]

console = Console()
err_console = Console(stderr=True)


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
