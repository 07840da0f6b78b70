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
    the block is over. Threads started in the block hold it for good (the main thread takes it then). Where the
    signal cannot be held (off the main thread, on Windows), the block runs as it is."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is not handler:  # an import that set its own is undone
            signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
