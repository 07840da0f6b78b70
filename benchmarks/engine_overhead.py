"""Engine overhead: time per step of the dream loop against a bare frozen forward+backward.

Both are measured side by side in one run, alternating in short rounds, on the
same model, size and batch. Printed: the ratio of the fastest rounds (noise on
a shared machine only ever adds time, so minima are the steadiest figure) and
the ratio of medians. Target: at most 1.10x with the default regularizers
(clamp, blur, flip, jitter) on.

    python benchmarks/engine_overhead.py [--model efficientnet-lite0] [--size 224] [--batch 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dreamengine.config import RunConfig
from dreamengine.dreaming import build_job, load_model
from dreamengine.engine import run_job
from dreamengine.plugins import load_plugins


def bare_steps(model, image, target, steps):
    """The physical floor: forward, class logit, backward to the input; nothing else."""
    image = image.clone().requires_grad_(True)
    for _ in range(steps):
        image.grad = None
        model(image)[:, target].sum().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--reg", default=",".join(RunConfig().reg))
    parser.add_argument("--param", default=RunConfig().param, help="image parametrization (fft or pixel)")
    args = parser.parse_args()

    host = load_plugins(entry_points=False)
    config = RunConfig(model=args.model, size=args.size, classes=["flamingo"] * args.batch, steps=args.steps,
                       reg=args.reg.split(","), param=args.param, device="cpu")
    model = load_model(host, config)
    job, _ = build_job(host, config, model, torch.device("cpu"))
    target = int(job.targets[0])
    bare_steps(job.model, job.image, target, 2)  # warm up both paths
    run_job(job)
    bare, engine = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        bare_steps(job.model, job.image, target, args.steps)
        bare.append((time.perf_counter() - start) / args.steps)
        job, _ = build_job(host, config, model, torch.device("cpu"))
        start = time.perf_counter()
        run_job(job)
        engine.append((time.perf_counter() - start) / args.steps)
    b, e = min(bare), min(engine)
    print(f"model {args.model}, size {args.size}, batch {args.batch}, param {args.param}, regularizers {args.reg}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"bare forward+backward: {b * 1000:7.1f} ms/step (fastest round; median {statistics.median(bare) * 1000:.1f})")
    print(f"engine step          : {e * 1000:7.1f} ms/step (fastest round; median {statistics.median(engine) * 1000:.1f})")
    print(f"ratio engine/bare    : {e / b:7.3f}x fastest rounds, "
          f"{statistics.median(engine) / statistics.median(bare):.3f}x medians (target <= 1.10x)")


if __name__ == "__main__":
    main()
