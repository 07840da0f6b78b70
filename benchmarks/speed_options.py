"""The speed settings against the network as built: norm folding, channels-last, bfloat16 autocast, torch.compile.

Each variant gets its own copy of the model. The bare forward+backward of the
network as built (as timm makes it: the floor every figure is relative to),
and for each variant the bare step of its network (folded, laid out and cast
as its settings say) and its engine step, alternate round by round, so all
figures come from one run on one machine. Then a short dream is made with each variant and
re-scored by the float32 model (target logit and probability), to show what
bfloat16 does to the dream itself.

    python benchmarks/speed_options.py [--model efficientnet-lite0] [--size 224] [--compile] [--dream-steps 50]
        [--variants default,channels-last-off]

``--compile`` adds the torch.compile variant (its cold compile time is printed
separately; on a CPU it takes about a minute).
"""

from __future__ import annotations

import time

import torch

from dreamengine.engine.loop import run_job
from dreamengine.run.prepare import build_job
from timing import arguments, as_built, bare_steps, engine_case, interleave, report, setup

VARIANTS = {
    "default": {},
    "norms-unfolded": {"fold_norms": False},
    "channels-last-off": {"channels_last": False},
    "channels-last-on": {"channels_last": True},
    "bf16": {"precision": "bf16"},
    "bf16-channels-last-off": {"precision": "bf16", "channels_last": False},
}
#: The base case: the bare step of the network as built.
FLOOR = "network as built: bare"


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], steps=3, rounds=6)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dream-steps", type=int, default=50, help="steps of the dream each variant makes (0: none)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--variants", help=f"comma-separated subset of: {', '.join(VARIANTS)} (default: all)")
    args = parser.parse_args()
    chosen = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = [name for name in chosen if name not in VARIANTS]
    if unknown or "default" not in chosen:
        parser.error(f"--variants: need 'default' and names from {', '.join(VARIANTS)}; got {args.variants!r}")
    variants = {**{name: VARIANTS[name] for name in chosen}, **({"compile": {"compile": True}} if args.compile else {})}
    common = {"model": args.model, "size": args.size, "classes": ["flamingo"] * args.batch}
    cases, jobs = {}, {}
    for name, settings in variants.items():
        host, config, model, job = setup(args.device, steps=args.steps, **common, **settings)
        target, device = int(job.targets[0]), job.image.device
        if not cases:
            floor = as_built(host, config)
            cases[FLOOR] = lambda j=job, t=target, f=floor: lambda: bare_steps(f, j.image, t, args.steps)
        jobs[name] = (host, config, model)
        cases[f"{name}: bare"] = lambda j=job, t=target: lambda: bare_steps(j.model, j.image, t, args.steps)
        cases[f"{name}: engine"] = engine_case(host, config, model, device)
    print(
        f"model {args.model}, size {args.size}, batch {args.batch}, torch threads {torch.get_num_threads()}, "
        f"device {args.device}"
    )
    for name, case in cases.items():  # first calls: compile happens here
        timed = case()
        start = time.perf_counter()
        timed()
        print(f"  first call of {name}: {time.perf_counter() - start:.1f} s")
    report(interleave(cases, args.rounds, dict.fromkeys(cases, args.steps)), FLOOR)
    if args.dream_steps:
        judge = jobs["default"][2]
        print(f"dreams of {args.dream_steps} steps, re-scored by the float32 model:")
        for name, (host, config, model) in jobs.items():
            job, _ = build_job(
                host, config.updated({"steps": args.dream_steps}, "the benchmark"), model, torch.device(args.device)
            )
            image = run_job(job).image.to(args.device)
            with torch.no_grad():
                logits = judge(image)
            target = job.targets.to(args.device)
            logit = logits.gather(1, target[:, None]).mean()
            probability = logits.softmax(1).gather(1, target[:, None]).mean()
            print(f"  {name:<22} target logit {float(logit):7.3f}, probability {float(probability):.3g}")


if __name__ == "__main__":
    main()
