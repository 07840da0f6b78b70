"""Freed blocks kept for the next step (glibc's thresholds, dreamengine.run.allocator) against glibc's own.

Each round runs one child process per case, alternating: ``kept`` (what every model load sets now) and
``glibc`` (the thresholds left as glibc sets them). A child dreams a batch of atlas units of one layer (the
atlas's own run settings, octaves off so that every step has one shape) and prints the fastest of its steps
after the first two, and its median step: glibc raises its threshold as large blocks are freed, so a run's
fastest steps may reuse memory either way; its typical step shows the page faults. The allocator's settings are
the process's, set once, so a case is a process; each case's figures are its best run's.

    OMP_NUM_THREADS=2 python benchmarks/allocator.py [--layers blocks.3,bn2] [--batches 1,16] [--size 128]
        [--steps 20] [--rounds 3]
"""

from __future__ import annotations

import subprocess
import sys

from timing import arguments

#: A child: argv is case, layer, batch, size, steps; prints its fastest and its median step in ms (the steps
#: after the first two).
CHILD = """
import sys, time, warnings
warnings.simplefilter("ignore")
case, layer, batch, size, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if case == "glibc":  # the model loads without setting the thresholds
    import dreamengine.run.prepare as prepare
    prepare.keep_freed_memory = lambda: False
from dreamengine.atlas.plan import plan_atlas
from dreamengine.atlas.units import unit_config
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.execute import run_through_hooks
from dreamengine.run.prepare import build_job, load_model, resolve_device
host = load_plugins(entry_points=False)
config = RunConfig(size=size, steps=steps, device="cpu").updated({"strategy": []}, "the benchmark")
model = load_model(host, config)
plan = plan_atlas(model, config, "unused", layers=[layer], units=str(batch), batch=batch)
job, _ = build_job(host, unit_config(plan, plan.layers[0], plan.layers[0].units), model, resolve_device("cpu"))
stamps = []
job.on_step = lambda step, scores: stamps.append(time.perf_counter())
run_through_hooks(host, job)
steps = sorted(later - earlier for earlier, later in zip(stamps[2:], stamps[3:]))
print(steps[0] * 1000, steps[len(steps) // 2] * 1000)
"""

CASES = ("kept", "glibc")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=20, rounds=3)
    parser.add_argument("--layers", default="blocks.3,bn2")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    print(f"{args.size}x{args.size}, {args.steps} steps a run, {args.rounds} rounds; each case's best run")
    for layer in args.layers.split(","):
        for batch in (int(text) for text in args.batches.split(",")):
            runs: dict[str, list[tuple[float, float]]] = {case: [] for case in CASES}
            for number in range(args.rounds):
                for case in CASES if number % 2 == 0 else reversed(CASES):
                    command = [sys.executable, "-c", CHILD, case, layer, str(batch), str(args.size), str(args.steps)]
                    done = subprocess.run(command, capture_output=True, text=True, check=True)
                    fastest, median = map(float, done.stdout.split()[-2:])
                    runs[case].append((fastest, median))
            best = {case: (min(f for f, _ in found), min(m for _, m in found)) for case, found in runs.items()}
            (kept_fast, kept_median), (glibc_fast, glibc_median) = best["kept"], best["glibc"]
            print(
                f"  {layer}, {batch} a batch: median step kept {kept_median:.1f} ms, glibc's {glibc_median:.1f} ms "
                f"(kept / glibc {kept_median / glibc_median:.2f}); fastest step {kept_fast:.1f} ms, "
                f"{glibc_fast:.1f} ms ({kept_fast / glibc_fast:.2f})"
            )


if __name__ == "__main__":
    main()
