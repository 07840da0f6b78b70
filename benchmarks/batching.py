"""Several dreams in one batch or one after another: time per dream at batch 8 and batch 1.

For each size, the bare forward+backward (of the network as built) and the
engine step (default settings) at batch 1 and batch 8 alternate round by round. Printed: ms per
dream per step and the gain of batching (batch-1 time per dream over batch-8
time per dream; above 1 means batching pays).

    python benchmarks/batching.py [--model efficientnet-lite0] [--sizes 128,224] [--batch 8]
"""

from __future__ import annotations

import statistics

import torch

from timing import arguments, as_built, bare_steps, engine_case, interleave, report, setup


def cases_for(model_name, size, batch, steps, device):
    cases, units = {}, {}
    for items in (1, batch):
        host, config, model, job = setup(device, model=model_name, size=size, classes=["flamingo"] * items, steps=steps)
        target = int(job.targets[0])
        network = as_built(host, config)
        cases[f"bare   batch {items}"] = lambda n=network, j=job, t=target: lambda: bare_steps(n, j.image, t, steps)
        cases[f"engine batch {items}"] = engine_case(host, config, model, job.image.device)
        units[f"bare   batch {items}"] = units[f"engine batch {items}"] = steps * items
    return cases, units


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=2, rounds=5)
    parser.add_argument("--sizes", default="128,224")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    print(f"model {args.model}, torch threads {torch.get_num_threads()}, device {args.device}")
    for size in map(int, args.sizes.split(",")):
        cases, units = cases_for(args.model, size, args.batch, args.steps, args.device)
        times = interleave(cases, args.rounds, units)
        print(f"size {size}: time per dream per step")
        report(times, "bare   batch 1", unit="dream")
        for kind in ("bare  ", "engine"):
            one, many = times[f"{kind} batch 1"], times[f"{kind} batch {args.batch}"]
            print(
                f"  {kind.strip()}: batching {args.batch} dreams pays x{min(one) / min(many):.2f} (fastest rounds), "
                f"x{statistics.median(one) / statistics.median(many):.2f} (medians)"
            )


if __name__ == "__main__":
    main()
