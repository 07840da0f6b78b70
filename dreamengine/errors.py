"""Errors meant for people: one clear line, with a suggestion where one helps."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dreamengine.components import DreamResult

__all__ = [
    "DreamError",
    "DreamInterrupted",
    "WeightsUnavailable",
    "check_options",
    "compile_failure",
    "out_of_memory",
    "unknown_name",
]


class DreamError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits non-zero."""


class WeightsUnavailable(DreamError):
    """Pretrained weights were asked for and cannot be had (none exist, or the download failed).

    The message is for the command that asked (``run --pretrained``); ``reason`` says only why, for a
    caller that words its own advice (``evaluate``, whose judges need trained weights).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class DreamInterrupted(KeyboardInterrupt):
    """A dream stopped by the user (Ctrl-C), carrying what it had made so far.

    It is a ``KeyboardInterrupt``, so code that knows nothing of it stops as
    before. Attributes: ``result``, the :class:`~dreamengine.DreamResult` of
    the steps finished (``interrupted`` set); ``paths``, the files written from
    it (empty until :func:`dreamengine.run.execute.execute` writes them).
    """

    def __init__(self, result: DreamResult) -> None:
        super().__init__(f"interrupted after {result.steps_done} steps")
        self.result = result
        self.paths: list[Path] = []


def check_options(*rules: tuple[str, object, bool, str]) -> None:
    """Raise a :class:`DreamError` for the first rule ``(option, value, holds, what it must be)`` that does not
    hold, e.g. ``--steps must be at least 1, got 0.``"""
    for option, value, holds, must_be in rules:
        if not holds:
            raise DreamError(f"{option} must be {must_be}, got {value}.")


#: How each command asks for less memory at once; a command not named here gets only the plain advice.
_LESS_MEMORY = {
    "run": "a smaller --size, fewer classes per run, or --strategy tile for a large dream",
    "study": "a smaller --size, or fewer --workers with --executor ray",
    "atlas": "a smaller --batch or --size, or fewer --workers with --executor ray",
    "train": "a smaller --batch-size or --size",
}


def out_of_memory(error: BaseException, command: str | None = None) -> DreamError | None:
    """The one-line error for ``error`` if it is the device running out of memory (torch's CUDA or MPS error, its
    CPU allocator's, or Python's ``MemoryError``), saying how much was asked for where known and how
    ``command`` (``"run"``, ``"train"``, ...) asks for less; else ``None``."""
    text = str(error)
    if not (isinstance(error, MemoryError) or "out of memory" in text or "can't allocate memory" in text):
        return None
    asked = re.search(r"allocate (\d+) bytes", text)
    size = f" (it asked for {int(asked.group(1)) / 2**30:.1f} GiB more)" if asked else ""
    gpu = next((f" on {name}" for name in ("CUDA", "MPS") if name in text), "")
    advice = _LESS_MEMORY.get(command) if command is not None else None
    return DreamError(f"out of memory{gpu}{size}. Ask for less at once{': ' + advice if advice else ''}.")


def compile_failure(error: BaseException) -> DreamError | None:
    """The one-line error for ``error`` if ``torch.compile`` raised it (no C++ compiler, say); else ``None``."""
    if not type(error).__module__.startswith(("torch._dynamo", "torch._inductor")):
        return None
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return DreamError(f"torch.compile failed ({first}). --compile is opt-in: run without it.")


def unknown_name(
    what: str, name: str, choices: Iterable[str], *, show: int = 12, meaning: Callable[[str], Hashable] | None = None
) -> DreamError:
    """Build the error for a name that is not among ``choices``, suggesting the closest.

    ``show`` caps how many choices are listed (0: none, for long lists).
    ``meaning`` maps each choice to what it names: of several choices that name
    the same thing (synonyms), only the closest is suggested.
    """
    choices = sorted(set(choices))
    message = f"unknown {what} {name!r}."
    close = _containing(name, choices) or difflib.get_close_matches(name, choices, n=max(1, len(choices)), cutoff=0.6)
    close = _one_per_meaning(close, meaning)[:3] if meaning else close[:3]
    if close:
        message += " Did you mean " + " or ".join(repr(c) for c in close) + "?"
    if choices and show:
        listed = ", ".join(choices[:show]) + (f", ... ({len(choices)} in all)" if len(choices) > show else "")
        message += f" Available: {listed}."
    return DreamError(message)


def _one_per_meaning(choices: list[str], meaning: Callable[[str], Hashable]) -> list[str]:
    """``choices`` in order, without those that name the same thing as an earlier one."""
    seen: set[Hashable] = set()
    kept = []
    for choice in choices:
        if meaning(choice) not in seen:
            seen.add(meaning(choice))
            kept.append(choice)
    return kept


def _containing(name: str, choices: list[str]) -> list[str]:
    """Choices that contain ``name`` as a whole word (``cat`` -> ``tabby cat``), shortest first."""
    words = _words(name)
    hits = [c for c in choices if c.lower() != name.lower() and _has_words(_words(c), words)]
    return sorted(hits, key=len)


def _words(text: str) -> list[str]:
    return text.lower().replace("-", " ").replace("_", " ").split()


def _has_words(haystack: list[str], words: list[str]) -> bool:
    return any(haystack[i : i + len(words)] == words for i in range(len(haystack) - len(words) + 1))
