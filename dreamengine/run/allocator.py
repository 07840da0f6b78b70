"""The C allocator's settings for dreaming: large blocks freed by one step kept for the next.

A dream step allocates the same large activations and gradients every step and frees them at its end. glibc's
``malloc`` serves a block above its mmap threshold straight from the system (the threshold starts at 128 KiB
and only rises as such blocks are freed), and hands the top of its heap back to the system once more than its
trim threshold (twice that) is free there. Either way the next step gets its blocks as fresh pages, and the
first write to each 4 KiB page is a page fault: in a batch of 16 atlas units at 128x128, zeroing one padded
activation in fresh pages took 18 ms of a 98 ms step (the profiler), and the batch's median step is 0.73x as long
with the blocks kept (``benchmarks/allocator.py``; docs/performance.md).

:func:`keep_freed_memory` raises the mmap threshold to glibc's most (32 MiB) and the trim threshold to 1 GiB, so
a step's blocks are reused from the heap. It changes no arithmetic (the pictures are the same bytes), only
when memory goes back to the system: a process's resident size stays near its peak, which it reaches anyway.
It does nothing on another C library, or when ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` is set
(the user's settings win).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

#: glibc's largest mmap threshold on a 64-bit system (half its 64 MiB heap size): blocks up to this are reused.
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the top of the heap kept before any goes back to the system.
TRIM_THRESHOLD = 1024 * 1024 * 1024
#: ``mallopt``'s parameter numbers (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_done = False


def keep_freed_memory() -> bool:
    """Set glibc's thresholds once per process (see the module); returns whether they are set now."""
    global _done
    if _done:
        return True
    if any(os.environ.get(name) for name in _ENVIRONMENT) or platform.libc_ver()[0] != "glibc":
        return False
    library = ctypes.util.find_library("c")
    if library is None:
        return False
    mallopt = ctypes.CDLL(library).mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
