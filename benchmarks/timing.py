"""Shared timing for the benchmarks: cases measured side by side, alternating round by round.

Noise on a shared machine only ever adds time, so the fastest round is the
steadiest figure; the median is printed beside it. On a machine whose speed
drifts from second to second (a shared virtual machine), the steadiest ratio is
the paired one: each round's time over the base case's time in the same round
(taken moments apart, in alternating order), median over the rounds.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import torch

from dreamengine.engine.loop import run_job
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import build_job, load_model

__all__ = ["arguments", "as_built", "bare_steps", "engine_case", "interleave", "report", "setup", "synchronize"]


def arguments(description: str, steps: int, rounds: int) -> argparse.ArgumentParser:
    """A parser with the options every benchmark takes: --model, --steps, --rounds, --device."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--steps", type=int, default=steps, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--device", default="cpu")
    return parser


def bare_steps(model, image, target, steps):
    """The physical floor: forward, class logit, backward to the input; nothing else."""
    image = image.clone().requires_grad_(True)
    for _ in range(steps):
        image.grad = None
        model(image)[:, target].sum().backward()


def setup(device: str = "cpu", **settings):
    """The plugin host, the config, its model and a job built from them (default regularizers unless set).

    The model is the engine's: frozen, on ``device``, and prepared as the
    config says (by default its batch norms folded and, on the CPU,
    channels-last); ``job.model`` is the same object.
    """
    host = load_plugins(entry_points=False)
    config = RunConfig(device=device, **settings)
    model = load_model(host, config)
    job, _ = build_job(host, config, model, torch.device(device))
    return host, config, model, job


def as_built(host, config):
    """The config's network as built (as timm makes it): frozen and on the config's device, nothing else.

    The floor every benchmark measures against: no norm folded, the default
    memory format.
    """
    return load_model(host, config).freeze().to(config.device)


def synchronize() -> None:
    """Wait for queued GPU work, so that a case's time includes it."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        torch.mps.synchronize()


def interleave(
    cases: dict[str, Callable[[], Callable[[], object]]], rounds: int, units: dict[str, int]
) -> dict[str, list[float]]:
    """Time each case once per round, cases alternating; seconds per unit (step, dream) of each case.

    A case is called untimed to prepare a round (build the job, say) and
    returns the callable that is timed.
    """
    for case in cases.values():  # warm-up
        case()()
    synchronize()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for number in range(rounds):
        order = list(cases.items())
        for name, case in order if number % 2 == 0 else reversed(order):  # alternate who goes first
            timed = case()
            synchronize()
            start = time.perf_counter()
            timed()
            synchronize()
            times[name].append((time.perf_counter() - start) / units[name])
    return times


def engine_case(host, config, model, device) -> Callable[[], Callable[[], object]]:
    """A case that builds a fresh job untimed, then times :func:`run_job` on it."""
    return lambda: functools.partial(run_job, build_job(host, config, model, device)[0])


def report(times: dict[str, list[float]], base: str, unit: str = "step") -> None:
    """Print each case's fastest and median time, and its ratio to ``base``: fastest rounds, medians, and paired."""
    fastest, median = min(times[base]), statistics.median(times[base])
    width = max(map(len, times))
    for name, values in times.items():
        paired = statistics.median(value / other for value, other in zip(values, times[base], strict=True))
        print(
            f"  {name:<{width}}  {min(values) * 1000:8.1f} ms/{unit} (median {statistics.median(values) * 1000:8.1f})"
            f"  x{min(values) / fastest:6.3f} fastest, x{statistics.median(values) / median:6.3f} median,"
            f" x{paired:6.3f} paired"
        )
