"""How many threads a dream computes with on the CPU.

PyTorch starts one thread per core. On a machine whose cores are busy with other work that is many times slower
than one thread (every parallel operation waits for its slowest thread, and a thread that shares its core waits a
whole time slice), so unless told (``--threads N``, a config file's ``threads``, or ``OMP_NUM_THREADS``) a run
counts the CPUs it may use and how busy other programs keep them, and uses the free ones.

The thread count changes the dream's last bits, and over hundreds of steps its picture: Intel MKL splits a small
matrix product's sums across threads (a 1x1 convolution on a 3x3 feature map). So every dream stores the count it
was made with (:func:`dreamengine.run.outputs.manifest`), and ``--from`` uses it again. MKL's strict reproducible
mode (``MKL_CBWR=AUTO,STRICT``) is no cure: at the default size the pictures still differ by thread count with it
(docs/guide.md, Reproducibility).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from dreamengine.errors import DreamError

__all__ = ["ThreadChoice", "usable_cpus", "busy_cpus", "choose_threads", "apply_threads"]

#: How long the CPUs' use by other programs is sampled, in seconds.
SAMPLE_SECONDS = 0.1
#: The share of a CPU other programs may use while it still counts as free for a thread of the dream.
_FREE_ENOUGH = 0.2


@dataclass(frozen=True)
class ThreadChoice:
    """The threads a run computes with, the CPUs it may use, and how many of them other programs keep busy
    (``automatic``: chosen from that; otherwise asked for)."""

    threads: int
    cpus: int
    busy: float
    automatic: bool

    def note(self) -> str | None:
        """One line to tell the user when the machine is busy and fewer threads than CPUs are used; else ``None``."""
        if not self.automatic or self.threads >= self.cpus:
            return None
        return (
            f"other programs keep {self.busy:.1f} of the {self.cpus} CPUs busy: dreaming on "
            f"{self.threads} thread{'s' * (self.threads != 1)}, which is faster here (--threads N to choose)."
        )


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota where one is set."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, math.ceil(quota)) if quota else cpus)


def _cgroup_quota() -> float | None:
    """CPUs' worth of time the cgroup allows (cgroup v2 ``cpu.max``, or v1's CFS quota), or ``None``."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text().strip()
            period = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    try:
        return int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None


def busy_cpus(seconds: float = SAMPLE_SECONDS) -> float:
    """How many of this process's CPUs other programs keep busy: their use over ``seconds`` (from /proc/stat) while
    this process waits, or where that cannot be read, the 1-minute load average."""
    try:
        allowed = os.sched_getaffinity(0)
        before = _cpu_times(allowed)
        time.sleep(seconds)
        after = _cpu_times(allowed)
    except (AttributeError, OSError, ValueError):
        try:
            return min(float(usable_cpus()), os.getloadavg()[0])
        except (AttributeError, OSError):
            return 0.0
    busy = 0.0
    for cpu, (idle, total) in after.items():
        spent = total - before[cpu][1]
        if spent > 0:
            busy += 1 - (idle - before[cpu][0]) / spent
    return min(busy, float(usable_cpus()))


def _cpu_times(allowed: set[int]) -> dict[int, tuple[int, int]]:
    """Each allowed CPU's idle and total time so far (in clock ticks), from /proc/stat."""
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in allowed:
            ticks = [int(value) for value in fields[:8]]  # user nice system idle iowait irq softirq steal
            times[int(name[3:])] = (ticks[3] + ticks[4], sum(ticks))
    if not times:
        raise ValueError("no CPU lines in /proc/stat")
    return times


def choose_threads(cpus: int | None = None, busy: float | None = None) -> ThreadChoice:
    """One thread per CPU that other programs leave free (at least one): a CPU counts as free while they use less
    than a fifth of it. ``cpus`` and ``busy`` default to :func:`usable_cpus` and :func:`busy_cpus`."""
    cpus = usable_cpus() if cpus is None else cpus
    busy = busy_cpus() if busy is None else busy
    threads = max(1, min(cpus, math.floor(cpus - busy + _FREE_ENOUGH)))
    return ThreadChoice(threads, cpus, busy, automatic=True)


def apply_threads(requested: int | None) -> ThreadChoice:
    """Set torch's thread count: ``requested``; or, when ``None``, ``OMP_NUM_THREADS`` where that is set (torch
    has read it), else :func:`choose_threads`. Returns what was chosen."""
    if requested is not None and (isinstance(requested, bool) or requested < 1):
        raise DreamError(f"threads must be 1 or more, got {requested!r}.")
    if requested is None and os.environ.get("OMP_NUM_THREADS", "").strip():
        requested = torch.get_num_threads()
    choice = choose_threads() if requested is None else ThreadChoice(requested, usable_cpus(), 0.0, automatic=False)
    torch.set_num_threads(choice.threads)
    return choice
