"""Engine overhead: time per step of the dream loop against a bare frozen forward+backward.

They alternate step by step in one run: after every engine step (through the
loop's own ``on_step`` callback) two bare steps of the same model, size and
batch are timed, in alternating order, so each triple sees the same state of
the machine: one of the network as built (as timm makes it), and one of the
engine's own network (by default its batch norms folded and, on the CPU,
channels-last). Printed: fastest and median step of
each, and the paired ratios (median over the steps of engine step / the bare
step beside it), the steadiest figure on a machine whose speed drifts. The
per-dream set-up (optimizer, Fourier transform of the start image) is not a
step and is not counted. Target: at most 1.05x with the default regularizers.

``--breakdown`` measures the default settings built up one part at a time
(pixels and no regularizer, then the fft parametrization, the projections,
flip and jitter, scale and rotate), each against its own bare steps.

    python benchmarks/engine_overhead.py [--model efficientnet-lite0] [--size 224] [--batch 1] [--param fft]
        [--breakdown]
"""

from __future__ import annotations

import statistics
import time

import torch

from dreamengine.engine.loop import run_job
from dreamengine.run.config import RunConfig
from timing import arguments, as_built, bare_steps, setup, synchronize


def paired_steps(device: str, steps: int, **settings) -> dict[str, list[float]]:
    """Seconds of each engine step and of the two bare steps timed right after it (the first dropped: warm-up)."""
    host, config, model, job = setup(device, steps=steps + 1, **settings)
    networks = {"as built": as_built(host, config), "engine's": model}
    image, target = job.image.clone(), int(job.targets[0])
    times: dict[str, list[float]] = {"engine": [], **{name: [] for name in networks}}
    clock = {"start": None}

    def on_step(number, scores):
        synchronize()
        if clock["start"] is not None:
            times["engine"].append(time.perf_counter() - clock["start"])
        for name, network in networks.items() if number % 2 else reversed(networks.items()):
            start = time.perf_counter()
            bare_steps(network, image, target, 1)
            synchronize()
            times[name].append(time.perf_counter() - start)
        clock["start"] = time.perf_counter()

    for network in networks.values():  # warm-up
        bare_steps(network, image, target, 2)
    job.on_step = on_step
    run_job(job)
    return {name: values[-steps:] for name, values in times.items()}


def print_pairs(label: str, times: dict[str, list[float]]) -> None:
    engine = times["engine"]
    print(f"  {label}: engine {min(engine) * 1000:.1f} ms (median {statistics.median(engine) * 1000:.1f})")
    for name in ("as built", "engine's"):
        bare = times[name]
        paired = statistics.median(e / b for e, b in zip(engine, bare, strict=True))
        print(
            f"    bare, network {name:<9} {min(bare) * 1000:6.1f} ms (median {statistics.median(bare) * 1000:6.1f}):"
            f" engine x{paired:.3f} paired, x{min(engine) / min(bare):.3f} fastest,"
            f" x{statistics.median(engine) / statistics.median(bare):.3f} median"
        )
    prepared = statistics.median(f / b for f, b in zip(times["engine's"], times["as built"], strict=True))
    print(f"    the engine's network: bare step x{prepared:.3f} paired of the network as built")


def breakdown(param: str) -> list[tuple[str, str, list[str]]]:
    """The default settings built up one part at a time: (label, parametrization, regularizers)."""
    regs = RunConfig().reg
    projections = [r for r in regs if r.split(":")[0] in ("clamp", "blur")]
    exact = [r for r in regs if r.split(":")[0] in ("flip", "jitter")]
    warps = [r for r in regs if r.split(":")[0] in ("scale", "rotate")]
    return [
        ("pixel, no regularizer", "pixel", []),
        (f"{param}, no regularizer", param, []),
        (f"{param} + {','.join(projections)}", param, projections),
        (f"+ {','.join(exact)}", param, projections + exact),
        (f"+ {','.join(warps)} (the defaults)", param, projections + exact + warps),
    ]


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=200, rounds=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--reg", default=",".join(RunConfig().reg))
    parser.add_argument("--param", default=RunConfig().param, help="image parametrization (fft or pixel)")
    parser.add_argument("--breakdown", action="store_true", help="measure the defaults built up part by part")
    args = parser.parse_args()
    common = dict(model=args.model, size=args.size, classes=["flamingo"] * args.batch)
    cases = (
        breakdown(args.param)
        if args.breakdown
        else [(f"{args.param}, {args.reg or 'no regularizer'}", args.param, [r for r in args.reg.split(",") if r])]
    )
    print(
        f"model {args.model}, size {args.size}, batch {args.batch}, {args.steps} steps each, "
        f"torch threads {torch.get_num_threads()}, device {args.device} (target: engine <= 1.05x bare)"
    )
    for _ in range(args.rounds):
        for label, param, reg in cases:
            print_pairs(label, paired_steps(args.device, args.steps, param=param, reg=reg, **common))


if __name__ == "__main__":
    main()
