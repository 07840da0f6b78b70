"""An atlas's units dreamt in batches or one at a time: time per unit, on the atlas's own path.

Each case dreams the same ``--batch`` units of a layer through
:func:`dreamengine.atlas.units.dream_batch` (the job built, the dream, its PNG,
thumbnail and activation): once as one batch, and once as that many batches of
one unit, alternating round by round. Both run at two step counts, so that the
time per unit splits into a fixed part (building the job, the files) and a part
per step; the figures are projected to the run's default step count, which is
read from ``RunConfig``, not copied.

    OMP_NUM_THREADS=2 python benchmarks/atlas.py [--model efficientnet-lite0] [--size 128] [--batch 16]
        [--layers blocks.3,logits] [--steps 6] [--rounds 2]
"""

from __future__ import annotations

import statistics
import time
import warnings

import torch

from dreamengine.atlas.plan import plan_atlas
from dreamengine.atlas.units import dream_batch
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import load_model
from timing import arguments


def timed(host, plan, layer, units, model, per_run: int) -> float:
    """Seconds to dream ``units`` of ``layer``, ``per_run`` units in each engine run."""
    start = time.perf_counter()
    for first in range(0, len(units), per_run):
        batch = plan.batches({layer.name: units[first : first + per_run]})[0]
        dream_batch(host, plan, batch, model)
    return time.perf_counter() - start


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=6, rounds=2)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--layers", default="blocks.3,logits")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    host = load_plugins(entry_points=False)
    default_steps = RunConfig().steps
    print(
        f"model {args.model}, {args.size}x{args.size}, torch threads {torch.get_num_threads()}, device {args.device}; "
        f"{args.batch} units per batch vs 1; projected to the default {default_steps} steps"
    )
    for name in args.layers.split(","):
        counts = (args.steps, 2 * args.steps)
        times: dict[tuple[int, int], list[float]] = {}
        for steps in counts:
            config = RunConfig(model=args.model, size=args.size, steps=steps, device=args.device)
            model = load_model(host, config)
            plan = plan_atlas(model, config, "unused", layers=[name], units=str(args.batch), batch=args.batch)
            layer = plan.layers[0]
            units = list(layer.units)
            timed(host, plan, layer, units[:1], model, 1)  # warm-up
            for number in range(args.rounds):
                order = (args.batch, 1) if number % 2 == 0 else (1, args.batch)
                for per_run in order:
                    seconds = timed(host, plan, layer, units, model, per_run) / len(units)
                    times.setdefault((steps, per_run), []).append(seconds)
        report(name, times, counts, args.batch, default_steps)


def report(name, times, counts, batch, default_steps) -> None:
    """Per unit: the time at each step count (fastest round), the fixed and per-step parts, and the gain."""
    low, high = counts
    projected = {}
    for per_run in (1, batch):
        at_low, at_high = min(times[(low, per_run)]), min(times[(high, per_run)])
        per_step = (at_high - at_low) / (high - low)
        fixed = at_low - per_step * low
        projected[per_run] = fixed + per_step * default_steps
        spread = statistics.median(times[(high, per_run)])
        print(
            f"  {name} {'batched' if per_run > 1 else 'one at a time'} ({per_run}/run): "
            f"{at_low:.2f} s/unit at {low} steps, {at_high:.2f} s at {high} (median {spread:.2f}); "
            f"{per_step * 1000:.0f} ms/step + {fixed:.2f} s fixed; {projected[per_run]:.1f} s/unit at {default_steps}"
        )
    short = min(times[(low, 1)]) / min(times[(low, batch)])
    print(
        f"  {name}: batching pays x{projected[1] / projected[batch]:.2f} per unit at {default_steps} steps "
        f"(x{short:.2f} at {low} steps)"
    )


if __name__ == "__main__":
    main()
