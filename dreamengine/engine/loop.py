"""The gradient-ascent loop: the default implementation of ``dreamengine_run_dream``.

Everything is resolved before the loop starts; each step calls plain objects:
transforms -> forward -> objective - penalties -> backward (through the
gradient filters) -> optimizer step -> projections. Only the image receives gradients (the model is frozen).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dreamengine.components import DreamJob, DreamOutputs, DreamResult, Parametrization
from dreamengine.engine.phases import (
    compose_transforms,
    filter_gradient,
    project,
    regularizers_by_phase,
)
from dreamengine.errors import DreamInterrupted
from dreamengine.hookspecs import hookimpl

__all__ = ["OPTIMIZERS", "PixelParametrization", "divergence_message", "run_job", "run_steps"]


def _fused(optimizer: type[torch.optim.Optimizer]) -> Callable[..., torch.optim.Optimizer]:
    """``optimizer`` with its one fused kernel per step where this torch and device have it, else its default."""

    def make(params, lr: float) -> torch.optim.Optimizer:
        params = list(params)
        try:
            return optimizer(params, lr=lr, fused=True)
        except (RuntimeError, ValueError):  # an older torch, or a device without the fused kernel
            return optimizer(params, lr=lr)

    make.__doc__ = f"{optimizer.__name__}, fused where supported."
    return make


#: Optimizers by name; each is called as ``factory([image], lr=lr)``.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": _fused(torch.optim.Adam),
    "sgd": _fused(torch.optim.SGD),
    "adamw": _fused(torch.optim.AdamW),
}


def run_job(job: DreamJob) -> DreamResult:
    """Run the gradient-ascent loop of ``job`` and return its result."""
    param = job.parametrization or PixelParametrization()
    optimizer = OPTIMIZERS[job.optimizer](param.setup(job.image.detach()), lr=job.lr)
    phases = regularizers_by_phase(job.regularizers)
    transform = compose_transforms(phases["transform"])

    def step(activations: dict[str, torch.Tensor]) -> torch.Tensor:
        view = transform(filter_gradient(param.image(), phases["gradient"]), job.generator)
        score = job.objective(DreamOutputs(job.model(view), job.targets, activations))
        objective = score
        for regularizer in phases["penalty"]:
            objective = objective - regularizer.penalty(view)
        optimizer.zero_grad(set_to_none=True)
        (-objective.sum()).backward()
        optimizer.step()
        return score.detach()

    return run_steps(job, param, step)


def run_steps(
    job: DreamJob, param: Parametrization, step: Callable[[dict[str, torch.Tensor]], torch.Tensor]
) -> DreamResult:
    """The bookkeeping every dream loop shares, around ``job.steps`` calls of ``step``.

    Each regularizer first sees the start image (:meth:`~dreamengine.Regularizer.begin`).
    ``step(activations)`` makes one optimizer step on ``param`` and returns each
    item's objective; after it come the projections, the divergence check
    (keeping the last finite image), the frames and ``job.on_step``. The
    objective's layers are captured (the forward stopped early when it needs no
    logits). A ``KeyboardInterrupt`` (Ctrl-C) becomes
    :class:`~dreamengine.DreamInterrupted`, carrying the last finished step's image.
    """
    projections = regularizers_by_phase(job.regularizers)["project"]
    with torch.no_grad():
        last_good = param.image().detach().clone()
        for regularizer in job.regularizers:
            regularizer.begin(last_good)
    scores = torch.full((last_good.shape[0],), float("nan"), device=last_good.device)
    frames = [last_good.clone()] if job.save_every else []  # kept on the device until the loop ends
    done = 0
    try:
        with job.model.capture(job.objective.layers, stop_early=not job.objective.needs_logits) as activations:
            for number in range(1, job.steps + 1):
                score = step(activations)
                with torch.no_grad():
                    image = project(param, projections, job.generator)
                if not torch.isfinite(score.sum() + image.sum()):  # one reduction and one sync: NaN/inf propagate
                    return DreamResult(
                        last_good.cpu(),
                        scores.cpu(),
                        number - 1,
                        _ending(frames, last_good, job, done),
                        divergence_message(job, number),
                    )
                last_good.copy_(image.detach())
                scores, done = score, number
                if job.save_every and number % job.save_every == 0:
                    frames.append(last_good.clone())
                if job.on_step is not None:
                    job.on_step(number, scores)
    except KeyboardInterrupt:
        raise DreamInterrupted(
            DreamResult(last_good.cpu(), scores.cpu(), done, _ending(frames, last_good, job, done), interrupted=True)
        ) from None
    return DreamResult(last_good.cpu(), scores.cpu(), job.steps, _ending(frames, last_good, job, job.steps))


def _ending(frames: list[torch.Tensor], image: torch.Tensor, job: DreamJob, done: int) -> list[torch.Tensor]:
    """The frames on the CPU, the last of them the dream as it ended (``image``, after ``done`` steps), also when
    ``done`` is not a multiple of ``job.save_every``."""
    if job.save_every and done % job.save_every:
        frames = [*frames, image]
    return [frame.cpu() for frame in frames]


class PixelParametrization(Parametrization):
    """The image is its own parameter: one value per pixel and channel."""

    def setup(self, image: torch.Tensor) -> list[torch.Tensor]:
        self.pixels = image.clone().requires_grad_(True)
        return [self.pixels]

    def image(self) -> torch.Tensor:
        return self.pixels

    def assign(self, image: torch.Tensor) -> None:
        self.pixels.copy_(image)


def divergence_message(job: DreamJob, step: int) -> str:
    """The message for a run of ``job`` whose objective or image stopped being finite at ``step``."""
    kept = f"The last finite image (step {step - 1}) was kept." if step > 1 else "No step finished: nothing was kept."
    return (
        f"the dream diverged at step {step} (the objective or the image stopped being finite) "
        f"with {job.optimizer} at learning rate {job.lr:g}; try a lower learning rate, e.g. --lr {job.lr / 10:g}. "
        + kept
    )


@hookimpl(trylast=True)
def dreamengine_run_dream(job: DreamJob) -> DreamResult:
    """The default loop: :func:`run_job`."""
    return run_job(job)
