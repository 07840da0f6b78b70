"""Ctrl-C held while a step must not be cut in two: importing torch or a plugin, loading a model, writing pages.

Python turns Ctrl-C (SIGINT) into :class:`KeyboardInterrupt` wherever the
interpreter happens to be. Inside an import that leaves a module half made
(a later import of it fails in odd ways), and inside a C++ extension's start-up
it can abort the process or be swallowed. :func:`interrupts_held` keeps the
signal pending for the length of a block, so a Ctrl-C pressed during it is
raised as soon as the block ends, where the command line turns it into one line
and exit 130 (:data:`INTERRUPTED`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["INTERRUPTED", "interrupts_held"]

#: What the command line says when Ctrl-C stops it where nothing was under way to keep.
INTERRUPTED = "Interrupted."


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) for the block: one that comes meanwhile is raised as :class:`KeyboardInterrupt` once
    the block is over. The signal is blocked in this thread (threads started in the block keep it blocked), and
    one that another thread takes is only noted, so nothing raises inside the block. Off the main thread, or where
    Ctrl-C is ignored (a shell's background job), the block runs as it is."""
    handler = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or handler in (signal.SIG_IGN, signal.SIG_DFL):
        yield
        return
    came: list[int] = []
    signal.signal(signal.SIGINT, lambda number, frame: came.append(number))
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)  # also undoes one an import set
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # one still pending is raised by the handler now
        if came:
            raise KeyboardInterrupt
