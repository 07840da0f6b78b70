"""An atlas's units dreamt in batches or one at a time: time per unit, on the atlas's own path.

Each case dreams units of one layer through :func:`dreamengine.atlas.units.dream_batch`
(the job built, the dream, its PNG, thumbnail and activation): ``--batch``
units as one batch, and ``--single`` units as that many batches of one unit
(time per unit does not depend on how many are dreamt in a row), the cases
alternating round by round. Each run's steps are timed one by one, so that
its time splits into a fixed part (building the job, the files, the first
step) and a mean step; a unit's time is projected from them to the run's
default step count (read from ``RunConfig``, not copied), and the fastest
round is kept (noise on a shared machine only adds time).

    OMP_NUM_THREADS=2 python benchmarks/atlas.py [--model efficientnet-lite0] [--size 128] [--batch 16]
        [--single 4] [--layers blocks.3,logits] [--steps 12] [--rounds 2]
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


def projected(host, plan, units, model, per_run: int, steps: int, default_steps: int) -> tuple[float, float]:
    """Seconds per unit to dream ``units`` of the plan's layer, ``per_run`` units in each engine run, at ``steps``
    steps as measured and projected to ``default_steps``."""
    total, projection = 0.0, 0.0
    for first in range(0, len(units), per_run):
        batch = plan.batches({plan.layers[0].name: units[first : first + per_run]})[0]
        stamps: list[float] = []
        start = time.perf_counter()
        dream_batch(
            host, plan, batch, model, on_step=lambda step, scores, stamps=stamps: stamps.append(time.perf_counter())
        )
        seconds = time.perf_counter() - start
        mean_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
        total += seconds
        projection += seconds + (default_steps - steps) * mean_step
    return total / len(units), projection / len(units)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=12, rounds=2)
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
        f"{args.batch} units per batch vs 1, {args.steps} steps measured, projected to the default {default_steps}"
    )
    config = RunConfig(model=args.model, size=args.size, steps=args.steps, device=args.device)
    model = load_model(host, config)
    for name in args.layers.split(","):
        plan = plan_atlas(model, config, "unused", layers=[name], units=str(args.batch), batch=args.batch)
        units = list(plan.layers[0].units)
        cases = {"batched": (units, args.batch), "one at a time": (units[: args.single], 1)}
        projected(host, plan, units[:1], model, 1, args.steps, default_steps)  # warm-up
        times: dict[str, list[tuple[float, float]]] = {case: [] for case in cases}
        for number in range(args.rounds):
            for case in cases if number % 2 == 0 else reversed(cases):
                chosen, per_run = cases[case]
                times[case].append(projected(host, plan, chosen, model, per_run, args.steps, default_steps))
        for case, values in times.items():
            measured, projection = min(values, key=lambda value: value[1])
            print(
                f"  {name} {case}: {measured:.2f} s/unit at {args.steps} steps, "
                f"{projection:.1f} s/unit at {default_steps} (fastest of {args.rounds} rounds)"
            )
        one, many = (min(value[1] for value in times[case]) for case in ("one at a time", "batched"))
        short = min(value[0] for value in times["one at a time"]) / min(value[0] for value in times["batched"])
        print(
            f"  {name}: batching pays x{one / many:.2f} per unit at {default_steps} steps "
            f"(x{short:.2f} at {args.steps})"
        )


if __name__ == "__main__":
    main()
