"""The automatic thread count against fixed ones, on an idle machine and on a busy one, side by side.

Each case is a fresh process that sets its threads as ``dreamengine run`` does (``auto``: chosen from how busy the
CPUs are; ``1``, ``2``, ...: as ``--threads N``), prepares the default dream at a small size and times its loop.
"Busy" starts a competitor first: one process per ``--competitors``, each a pure-Python busy loop pinned to its own
CPU. Conditions and cases alternate round by round, so every ratio compares runs taken moments apart; the table
gives each case's median (fastest) over the rounds and the automatic choice over the best fixed count.

    python benchmarks/threads.py [--size 128] [--steps 30] [--rounds 3] [--fixed 1,2] [--competitors 1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

#: What each case's process runs: threads as the command sets them, then the dream's loop, timed.
CHILD = """
import json, sys, time
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.execute import run_through_hooks
from dreamengine.run.prepare import prepare
from dreamengine.run.threads import apply_threads
threads, size, steps = sys.argv[1:4]
start = time.perf_counter()
choice = apply_threads(None if threads == "auto" else int(threads))
chosen = time.perf_counter() - start
host = load_plugins(entry_points=False)
job = prepare(host, RunConfig(size=int(size), steps=int(steps), output="unused")).job
start = time.perf_counter()
run_through_hooks(host, job)
print(json.dumps({"threads": choice.threads, "busy": choice.busy, "seconds": time.perf_counter() - start + chosen}))
"""


def spin(cpu: int) -> None:
    """A competitor: a busy loop on one CPU."""
    os.sched_setaffinity(0, {cpu})
    while True:
        pass


def run_case(threads: str, size: int, steps: int) -> dict:
    """One case in a fresh process (``OMP_NUM_THREADS`` unset, so that ``auto`` chooses); its time and threads."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, threads, str(size), str(steps)], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace) -> dict[tuple[str, str], list[dict]]:
    """Every condition and case, ``args.rounds`` times, alternating; results by (condition, case)."""
    cases = ["auto", *args.fixed.split(",")]
    results: dict[tuple[str, str], list[dict]] = {}
    cpus = sorted(os.sched_getaffinity(0))
    for number in range(args.rounds):
        for condition in ("idle", "busy"):
            competitors = []
            if condition == "busy":
                for cpu in cpus[: args.competitors]:
                    competitors.append(multiprocessing.Process(target=spin, args=(cpu,), daemon=True))
                    competitors[-1].start()
                time.sleep(1.0)  # let the competitors show in the CPUs' use
            try:
                order = cases[number % len(cases) :] + cases[: number % len(cases)]
                for case in order:
                    results.setdefault((condition, case), []).append(run_case(case, args.size, args.steps))
            finally:
                for competitor in competitors:
                    competitor.terminate()
                    competitor.join()
            time.sleep(1.0)
    return results


def report(results: dict[tuple[str, str], list[dict]], args: argparse.Namespace) -> None:
    """One row per condition: each case's median (fastest) seconds, the threads auto chose, and auto / best."""
    cases = ["auto", *args.fixed.split(",")]
    print(
        f"default dream at {args.size}x{args.size}, {args.steps} steps, {args.rounds} rounds, "
        f"{len(os.sched_getaffinity(0))} CPUs, busy = {args.competitors} busy-loop competitor(s); "
        f"seconds of the loop, median (fastest); load average now {os.getloadavg()[0]:.1f} "
        "(other programs make 'idle' busy too)"
    )
    print("| machine | " + " | ".join(f"threads {case}" for case in cases) + " | auto / best fixed (median) |")
    print("| --- " * (len(cases) + 2) + "|")
    for condition in ("idle", "busy"):
        medians = {case: statistics.median(r["seconds"] for r in results[condition, case]) for case in cases}
        cells = [f"{medians[case]:.2f} ({min(r['seconds'] for r in results[condition, case]):.2f})" for case in cases]
        chosen = sorted({r["threads"] for r in results[condition, "auto"]})
        cells[0] += f", chose {'/'.join(map(str, chosen))}"
        best = min(medians[case] for case in cases[1:])
        print(f"| {condition} | " + " | ".join(cells) + f" | {medians['auto'] / best:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fixed", default="1,2", help="fixed thread counts to compare, comma-separated")
    parser.add_argument("--competitors", type=int, default=1, help="busy-loop processes in the busy condition")
    args = parser.parse_args()
    report(measure(args), args)


if __name__ == "__main__":
    main()
