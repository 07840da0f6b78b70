"""How fast the command line starts: `--help`, each `COMMAND --help`, and a one-step run to its first step.

Each case is a fresh process, run in turn with the others round after round
(interleaved, so a busy machine slows them alike). Printed per case: the
median and fastest wall time, the child's peak resident memory (from
``os.wait4``, that process alone) and the ratio of the median to
``python -c "import torch, timm"``, the floor of anything that dreams. The run
is timed twice: to its first step (when its ``dreamengine_run_dream`` hook is
entered, marked by a wrapper this script adds) and to its end; its process
imports torch and timm first and marks that too, so the last line, its first
step over its own import, holds on a busy machine where separate processes
are slowed unalike.

    python benchmarks/startup.py [--rounds 5] [--no-commands]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PYTHON = sys.executable
MARK = "dreamengine-benchmark first step at "
IMPORTED = "dreamengine-benchmark torch and timm imported at "

#: Prints the names of the commands, those the entry-point plugins add included. Run in a child: this process
#: stays small, as a child's peak RSS counts its parent's at the fork.
LIST_COMMANDS = """
from dreamengine.cli import cli
from dreamengine.cli.group import add_plugin_commands
from dreamengine.plugins import load_plugins

add_plugin_commands(load_plugins(builtins=False), cli)
print(*sorted(cli.commands))
"""

#: `dreamengine ARGS`, with a hook wrapper that prints MARK and the time when the dream loop is entered. It
#: imports torch and timm first and prints IMPORTED and the time: the rest is dreamengine's own start-up,
#: measured in the same process as the imports (a busy machine slows separate processes unalike).
MARKED_RUN = f"""
import sys, time
import torch, timm
print({IMPORTED!r} + repr(time.time()), file=sys.stderr, flush=True)
from dreamengine import hookimpl
from dreamengine.cli import group

class FirstStep:
    @hookimpl(wrapper=True)
    def dreamengine_run_dream(self, job):
        print({MARK!r} + repr(time.time()), file=sys.stderr, flush=True)
        return (yield)

def marked(load=group.load_plugins, **options):
    host = load(**options)
    if options.get("builtins", True):
        host.pm.register(FirstStep(), name="benchmark-first-step")
    return host

group.load_plugins = marked
sys.argv = ["dreamengine", *sys.argv[1:]]
group.main()
"""


def cases(with_commands: bool, output: str) -> dict[str, list[str]]:
    """What to time: a name and the command line of each."""
    dreamengine = [PYTHON, "-m", "dreamengine"]
    found = {
        'python -c "pass"': [PYTHON, "-c", "pass"],
        "dreamengine --help": [*dreamengine, "--help"],
    }
    if with_commands:
        names = subprocess.run([PYTHON, "-c", LIST_COMMANDS], capture_output=True, text=True, check=True).stdout
        for name in names.split():
            found[f"dreamengine {name} --help"] = [*dreamengine, name, "--help"]
    found['python -c "import torch, timm"'] = [PYTHON, "-c", "import torch, timm"]
    found["dreamengine run --steps 1 --strategy none"] = [
        *(PYTHON, "-c", MARKED_RUN),
        *("run", "--steps", "1", "--strategy", "none", "-o", output),
    ]
    return found


def time_one(command: list[str]) -> tuple[float, dict[str, float], float]:
    """Wall seconds to the end, to each mark the command printed (by its text), and peak MiB."""
    start = time.time()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    end = time.time()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr}")
    marks: dict[str, float] = {}
    for line in stderr.splitlines():
        for text in (MARK, IMPORTED):
            if line.startswith(text):
                marks.setdefault(text, float(line.removeprefix(text)) - start)
    return end - start, marks, usage.ru_maxrss / 1024


Results = dict[str, list[tuple[float, float]]]


def measure(commands: dict[str, list[str]], rounds: int) -> tuple[Results, list[float]]:
    """Seconds and peak MiB of every case, ``rounds`` times, interleaved; a marked run adds its "to first step"
    case, and each round's ratio of its first step to its own import of torch and timm."""
    results: Results = {}
    own: list[float] = []
    for number in range(rounds):
        for name, command in commands.items():
            seconds, marks, peak = time_one(command)
            if MARK in marks:
                results.setdefault(f"{name} (to first step)", []).append((marks[MARK], peak))
                own.append(marks[MARK] / marks[IMPORTED])
                name = f"{name} (whole run)"
            results.setdefault(name, []).append((seconds, peak))
        print(f"round {number + 1} of {rounds} done", file=sys.stderr)
    return results, own


def report(results: Results, own: list[float]) -> None:
    """One row per case: median and fastest seconds, peak MiB, ratio to importing torch and timm; then the run's
    first step against its own import of them."""
    floor = statistics.median(s for s, _ in results['python -c "import torch, timm"'])
    width = max(map(len, results))
    print(f"{'case':<{width}}  {'median s':>8}  {'min s':>6}  {'peak MiB':>8}  {'x torch+timm':>12}")
    for name, runs in results.items():
        seconds = [s for s, _ in runs]
        median = statistics.median(seconds)
        peak = max(p for _, p in runs)
        print(f"{name:<{width}}  {median:8.2f}  {min(seconds):6.2f}  {peak:8.0f}  {median / floor:12.2f}")
    rounds = ", ".join(f"{ratio:.2f}" for ratio in own)
    print(f"the run's first step / its own import of torch and timm: median {statistics.median(own):.2f} ({rounds})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="Times each case runs (the median is shown).")
    parser.add_argument("--no-commands", action="store_true", help="Leave out each COMMAND --help.")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {args.rounds} rounds")
    with tempfile.TemporaryDirectory() as output:
        report(*measure(cases(not args.no_commands, output), args.rounds))


if __name__ == "__main__":
    main()
