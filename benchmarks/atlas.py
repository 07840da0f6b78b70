"""An atlas's units dreamt in batches or one at a time: time per unit, on the atlas's own path.

Each case dreams units of one layer through :func:`dreamengine.atlas.units.dream_batch`
(the job built, the dream, its PNG, thumbnail and activation): ``--batch``
units as one batch, and ``--single`` units as that many batches of one unit
(time per unit does not depend on how many are dreamt in a row), the cases
alternating round by round. Each run's steps are timed one by one. On a shared
machine noise only adds time, and here it comes in bursts that slow a whole
run several times over, so each case keeps, for each step of a run, its
fastest over every run and round (the case of one unit a run has ``--single``
times the runs to choose from, which favours it), and the fastest fixed part
(building the job, the first step, the files). A unit's time is then the fixed
part and the run's default step count (read from ``RunConfig``, not copied)
less the first of the mean fastest step, over the units of a run.

    OMP_NUM_THREADS=2 python benchmarks/atlas.py [--model efficientnet-lite0] [--size 128] [--batch 16]
        [--single 4] [--layers blocks.3,logits] [--steps 9] [--rounds 4]
"""

from __future__ import annotations

import time
import warnings

import torch

from dreamengine.atlas.plan import plan_atlas
from dreamengine.atlas.units import dream_batch
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import load_model
from timing import arguments


def runs(host, plan, units, model, per_run: int) -> list[tuple[float, list[float]]]:
    """Dream ``units`` of the plan's layer, ``per_run`` units in each engine run; each run's fixed seconds (all but
    the steps after its first) and the seconds of each later step."""
    timed = []
    for first in range(0, len(units), per_run):
        batch = plan.batches({plan.layers[0].name: units[first : first + per_run]})[0]
        stamps: list[float] = []
        start = time.perf_counter()
        dream_batch(
            host, plan, batch, model, on_step=lambda step, scores, stamps=stamps: stamps.append(time.perf_counter())
        )
        total = time.perf_counter() - start
        steps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
        timed.append((total - sum(steps), steps))
    return timed


def per_unit(timed: list[tuple[float, list[float]]], per_run: int, default_steps: int) -> tuple[float, float, float]:
    """Seconds per unit at ``default_steps`` from the fastest fixed part (the first step in it) and the fastest of
    each later step; and those two."""
    fixed = min(value for value, _ in timed)
    fastest = [min(steps[i] for _, steps in timed) for i in range(len(timed[0][1]))]
    step = sum(fastest) / len(fastest)
    return (fixed + step * (default_steps - 1)) / per_run, fixed, step


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=9, rounds=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--single", type=int, default=4, help="units dreamt one at a time per round")
    parser.add_argument("--layers", default="blocks.3,logits")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    host = load_plugins(entry_points=False)
    default_steps = RunConfig().steps
    print(
        f"model {args.model}, {args.size}x{args.size}, torch threads {torch.get_num_threads()}, device {args.device}; "
        f"{args.batch} units per batch vs 1, {args.steps} steps a run measured, "
        f"projected to the default {default_steps}"
    )
    config = RunConfig(model=args.model, size=args.size, steps=args.steps, device=args.device)
    model = load_model(host, config)
    for name in args.layers.split(","):
        plan = plan_atlas(model, config, "unused", layers=[name], units=str(args.batch), batch=args.batch)
        units = list(plan.layers[0].units)
        cases = {"batched": (units, args.batch), "one at a time": (units[: args.single], 1)}
        runs(host, plan, units[:1], model, 1)  # warm-up
        timed: dict[str, list[tuple[float, list[float]]]] = {case: [] for case in cases}
        for number in range(args.rounds):
            for case in cases if number % 2 == 0 else reversed(cases):
                chosen, per_run = cases[case]
                timed[case] += runs(host, plan, chosen, model, per_run)
        seconds = {}
        for case, (_, per_run) in cases.items():
            seconds[case], fixed, step = per_unit(timed[case], per_run, default_steps)
            print(
                f"  {name} {case} ({per_run} a run): fastest step {step * 1000:.0f} ms, fixed {fixed:.2f} s a run; "
                f"{seconds[case]:.2f} s a unit at {default_steps} steps"
            )
        print(f"  {name}: batching pays x{seconds['one at a time'] / seconds['batched']:.2f} per unit")


if __name__ == "__main__":
    main()
