"""Peak memory (resident set size) of any ``dreamengine`` command, run in a child process.

Everything after ``--`` is passed to ``python -m dreamengine``; the child's
peak RSS (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) and wall time are
printed. Unless the command names ``--output``/``-o``, the files go to a
temporary folder that is removed afterwards.

    python benchmarks/peak_memory.py -- run                        # the default dream (300 steps, 224x224)
    python benchmarks/peak_memory.py -- run --steps 20 --size 512  # any other run, or another command
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Run ``python -m dreamengine COMMAND`` to completion; return (peak RSS in MiB, seconds)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dreamengine", *command], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux (bytes on macOS)
    return (kib / 1024 if sys.platform != "darwin" else kib / 2**20), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- and the dreamengine command line")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --, e.g. -- run --steps 20")
    with tempfile.TemporaryDirectory() as folder:
        extra = ["--output", folder] if command[0] == "run" and not {"--output", "-o"} & set(command) else []
        mib, seconds = peak_rss([*command, *extra])
    print(f"dreamengine {' '.join(command)}")
    print(f"peak RSS {mib:.0f} MiB, {seconds:.1f} s")


if __name__ == "__main__":
    main()
