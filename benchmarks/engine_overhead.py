"""Engine overhead: time per step of the dream loop against a bare frozen forward+backward.

Both are measured side by side in one run, alternating in short rounds, on the
same model, size and batch. Printed: the ratio of the fastest rounds (noise on
a shared machine only ever adds time, so minima are the steadiest figure) and
the ratio of medians. Target: at most 1.05x with the default regularizers
(clamp, blur, flip, jitter) on.

    python benchmarks/engine_overhead.py [--model efficientnet-lite0] [--size 224] [--batch 1] [--param fft]
"""

from __future__ import annotations


import torch
from timing import arguments, bare_steps, engine_case, interleave, report, setup

from dreamengine.config import RunConfig


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=5, rounds=12)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--reg", default=",".join(RunConfig().reg))
    parser.add_argument("--param", default=RunConfig().param, help="image parametrization (fft or pixel)")
    args = parser.parse_args()
    host, config, model, job = setup(args.device, model=args.model, size=args.size, classes=["flamingo"] * args.batch,
                                     steps=args.steps, reg=args.reg.split(","), param=args.param)
    target, device = int(job.targets[0]), job.image.device
    cases = {"bare forward+backward": lambda: lambda: bare_steps(job.model, job.image, target, args.steps),
             "engine step": engine_case(host, config, model, device)}
    times = interleave(cases, args.rounds, dict.fromkeys(cases, args.steps))
    print(f"model {args.model}, size {args.size}, batch {args.batch}, param {args.param}, regularizers {args.reg}, "
          f"torch threads {torch.get_num_threads()}, device {args.device} (target: engine <= 1.05x bare)")
    report(times, "bare forward+backward")


if __name__ == "__main__":
    main()
