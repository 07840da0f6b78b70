"""The gradient-ascent loop: the default implementation of ``dreamengine_run_dream``.

Everything is resolved before the loop starts; each step calls plain objects:
transforms -> forward -> objective - penalties -> backward (through the
gradient filters) -> optimizer step -> projections. Only the image receives gradients (the model is frozen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .components import DreamOutputs, Objective, Parametrization, Regularizer, Strategy
from .errors import DreamInterrupted
from .hookspecs import hookimpl
from .model import DreamModel
from .warping import compose_transforms

__all__ = ["DreamJob", "DreamResult", "OPTIMIZERS", "PixelParametrization", "divergence_message",
           "filter_gradient", "regularizers_by_phase", "run_job", "run_steps"]


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

StepCallback = Callable[[int, torch.Tensor], None]


@dataclass
class DreamJob:
    """One batch of dreams, fully resolved and ready to run.

    Attributes:
        model: the frozen model, on the device the loop runs on.
        objective: what each batch item maximises.
        regularizers: applied in order in each of their phases.
        image: the start image ``(batch, 3, H, W)`` in [0, 1], on the model's device.
        targets: ``(batch,)`` class index of each item.
        steps: number of gradient steps.
        lr: learning rate.
        optimizer: a key of :data:`OPTIMIZERS`.
        generator: the one random generator every draw uses.
        save_every: keep a copy of the image every this many steps, and of the last step's (0: never).
        on_step: called as ``on_step(step, scores)`` after every step.
        parametrization: how the optimised tensors become the image (``None``: plain pixels).
        strategies: how the steps are run (octaves, tiling), outermost first;
            applied by :func:`dreamengine.dreaming.run_through_hooks` around
            the ``dreamengine_run_dream`` hook.
    """

    model: DreamModel
    objective: Objective
    regularizers: Sequence[Regularizer]
    image: torch.Tensor
    targets: torch.Tensor
    steps: int
    lr: float
    optimizer: str
    generator: torch.Generator
    save_every: int = 0
    on_step: StepCallback | None = None
    parametrization: Parametrization | None = None
    strategies: Sequence[Strategy] = ()


@dataclass
class DreamResult:
    """The outcome of a job.

    Attributes:
        image: the final images ``(batch, 3, H, W)`` on the CPU, in [0, 1] unless
            the regularizers allowed otherwise.
        scores: the objective of each item at the last finite step.
        steps_done: steps completed (fewer than asked if the run diverged or was interrupted).
        frames: snapshots of the dream as it grew, the start image first: every ``save_every`` steps and the
            last step's (none when it is 0), or the pictures a strategy makes of it (``zoom``: the end of each
            frame).
        diverged: a message if the loss or the image stopped being finite.
        interrupted: the user stopped the run (Ctrl-C) after ``steps_done`` steps.
    """

    image: torch.Tensor
    scores: torch.Tensor
    steps_done: int
    frames: list[torch.Tensor] = field(default_factory=list)
    diverged: str | None = None
    interrupted: bool = False


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


def regularizers_by_phase(regularizers: Sequence[Regularizer]) -> dict[str, list[Regularizer]]:
    """The regularizers acting in each phase (``transform``, ``penalty``, ``gradient``, ``project``), in order."""
    phases = [(r, r.phases()) for r in regularizers]
    return {phase: [r for r, p in phases if phase in p] for phase in ("transform", "penalty", "gradient", "project")}


def run_steps(job: DreamJob, param: Parametrization, step: Callable[[dict[str, torch.Tensor]], torch.Tensor]
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
                    image = _project(param, projections, job.generator)
                if not torch.isfinite(score.sum() + image.sum()):  # one reduction and one sync: NaN/inf propagate
                    return DreamResult(last_good.cpu(), scores.cpu(), number - 1, _ending(frames, last_good, job, done),
                                       divergence_message(job, number))
                last_good.copy_(image.detach())
                scores, done = score, number
                if job.save_every and number % job.save_every == 0:
                    frames.append(last_good.clone())
                if job.on_step is not None:
                    job.on_step(number, scores)
    except KeyboardInterrupt:
        raise DreamInterrupted(DreamResult(last_good.cpu(), scores.cpu(), done, _ending(frames, last_good, job, done),
                                           interrupted=True)) from None
    return DreamResult(last_good.cpu(), scores.cpu(), job.steps, _ending(frames, last_good, job, job.steps))


def _ending(frames: list[torch.Tensor], image: torch.Tensor, job: DreamJob, done: int) -> list[torch.Tensor]:
    """The frames on the CPU, the last of them the dream as it ended (``image``, after ``done`` steps), also when
    ``done`` is not a multiple of ``job.save_every``."""
    if job.save_every and done % job.save_every:
        frames = [*frames, image]
    return [frame.cpu() for frame in frames]


def filter_gradient(image: torch.Tensor, regularizers: Sequence[Regularizer]) -> torch.Tensor:
    """``image`` itself, but the gradient flowing back through it passes each regularizer's ``gradient`` phase."""
    if not regularizers:
        return image
    image = image.view_as(image)  # a fresh non-leaf each step, so hooks never pile up on the parameter

    def hook(grad: torch.Tensor) -> torch.Tensor:
        for regularizer in regularizers:
            grad = regularizer.gradient(grad)
        return grad

    image.register_hook(hook)
    return image


def _project(param: Parametrization, projections: Sequence[Regularizer], generator: torch.Generator) -> torch.Tensor:
    """Apply the projections to the rendered image, store it back, and return it."""
    image = param.image()
    if projections:
        for regularizer in projections:
            image = regularizer.project(image, generator)
        param.assign(image)
    return image


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
    return (f"the dream diverged at step {step} (the objective or the image stopped being finite) "
            f"with {job.optimizer} at learning rate {job.lr:g}; try a lower learning rate, e.g. --lr {job.lr / 10:g}. "
            + kept)


@hookimpl(trylast=True)
def dreamengine_run_dream(job: DreamJob) -> DreamResult:
    """The default loop: :func:`run_job`."""
    return run_job(job)
