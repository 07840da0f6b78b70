"""An early-layer objective: the forward stops after the layer, against a full forward+backward.

Side by side, alternating round by round, on the same model, size and batch:
the bare full forward+backward to the input (class logit), the layer
objective with the forward run to the end, and the layer objective with the
forward stopped after the layer (what the engine does for ``layer``), both bare
(the network as built) and as engine steps (the engine's network: by default
its batch norms folded and, on the CPU, channels-last). Target: the stopped forward at least 2x faster than the
full one for a layer in the first third of the network.

    python benchmarks/early_stop.py [--model efficientnet-lite0] [--layers blocks.1,blocks.2] [--size 224]
"""

from __future__ import annotations

import functools

import torch

from dreamengine.engine.loop import run_job
from dreamengine.run.prepare import build_job
from timing import arguments, as_built, bare_steps, interleave, report, setup


def layer_steps(model, image, layer, steps, stop_early):
    """Forward (stopped after ``layer`` or not), mean square of the layer, backward to the input."""
    image = image.clone().requires_grad_(True)
    with model.capture([layer], stop_early=stop_early) as captured:
        for _ in range(steps):
            image.grad = None
            model(image)
            captured[layer].pow(2).mean().backward()


def engine_case(host, config, model, device, layer, stop_early):
    """Build a layer-objective job untimed (stopping early or not); time its run."""

    def prepare():
        job, _ = build_job(host, config.updated({"objective": f"layer:layer={layer}"}, "the benchmark"), model, device)
        job.objective.needs_logits = not stop_early
        return functools.partial(run_job, job)

    return prepare


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=5, rounds=8)
    parser.add_argument("--layers", default="blocks.1,blocks.2")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    host, config, model, job = setup(
        args.device, model=args.model, size=args.size, classes=["flamingo"] * args.batch, steps=args.steps
    )
    device, target = job.image.device, int(job.targets[0])
    network = as_built(host, config)
    print(
        f"model {args.model}, size {args.size}, batch {args.batch}, torch threads {torch.get_num_threads()}, "
        f"device {args.device}"
    )
    for layer in args.layers.split(","):
        cases = {
            "bare full forward+backward (logit)": lambda: lambda: bare_steps(network, job.image, target, args.steps),
            "bare layer, full forward": lambda: lambda: layer_steps(network, job.image, layer, args.steps, False),  # noqa: B023
            "bare layer, stopped forward": lambda: lambda: layer_steps(network, job.image, layer, args.steps, True),  # noqa: B023
            "engine layer, full forward": engine_case(host, config, model, device, layer, False),
            "engine layer, stopped forward": engine_case(host, config, model, device, layer, True),
        }
        times = interleave(cases, args.rounds, dict.fromkeys(cases, args.steps))
        print(f"layer {layer} (time relative to the bare full forward+backward; target <= 0.5 stopped):")
        report(times, "bare full forward+backward (logit)")


if __name__ == "__main__":
    main()
