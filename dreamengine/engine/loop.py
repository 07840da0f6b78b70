"""The gradient-ascent loop: :class:`DreamLoop`, which the default ``dreamengine_run_dream`` runs and strategies reuse.

Everything is resolved before the loop starts; each step calls plain objects:
transforms -> forward -> objective - penalties -> backward (through the
gradient filters) -> optimizer step -> projections. Only the image receives gradients (the model is frozen).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dreamengine.components import DreamJob, DreamOutputs, DreamResult, Parametrization
from dreamengine.engine.defaults import OPTIMIZER_NAMES
from dreamengine.engine.phases import by_phase, compose_transforms, filter_gradient, project
from dreamengine.errors import DreamInterrupted
from dreamengine.hookspecs import hookimpl

__all__ = ["OPTIMIZERS", "DreamLoop", "PixelParametrization", "run_job"]


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


_OPTIMIZER_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
#: Optimizers by name (:data:`~dreamengine.engine.defaults.OPTIMIZER_NAMES`, which ``--optimizer`` lists);
#: each is called as ``factory([image], lr=lr)``.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    name: _fused(_OPTIMIZER_CLASSES[name]) for name in OPTIMIZER_NAMES
}


class PixelParametrization(Parametrization):
    """The image is its own parameter: one value per pixel and channel."""

    def setup(self, image: torch.Tensor) -> list[torch.Tensor]:
        self.pixels = image.clone().requires_grad_(True)
        return [self.pixels]

    def image(self) -> torch.Tensor:
        return self.pixels

    def assign(self, image: torch.Tensor) -> None:
        self.pixels.copy_(image)


class DreamLoop:
    """The engine's loop over one :class:`~dreamengine.DreamJob`: its step, and the bookkeeping around the steps.

    :meth:`step` renders the image (its gradient passing the regularizers' gradient phase on the way back),
    calls :meth:`climb` (transforms -> forward -> objective - penalties -> backward) and makes one optimizer
    step. :meth:`run` makes ``job.steps`` of them with what every loop shares: each regularizer's
    :meth:`~dreamengine.Regularizer.begin`, the projections, the divergence check (keeping the last finite
    image), the frames, ``job.on_step`` and Ctrl-C.

    A strategy that changes how a step finds its gradient (the built-in ``tile`` runs :meth:`climb` once per
    tile) subclasses it, overrides :meth:`climb` or :meth:`step`, and hands the loop ``loop(replace(job,
    make_loop=MyLoop))``: the job still goes through the ``dreamengine_run_dream`` hook, whose default
    implementation runs ``job.make_loop(job).run()``.

    Attributes:
        job: the job it runs.
        param: the job's parametrization (plain pixels by default), set up from ``job.image``.
        optimizer: the optimizer of ``param``'s tensors.
        phases: the job's regularizers acting in each phase (``transform``, ``penalty``, ``gradient``,
            ``project``), in order.
        transform: the transform phase as one callable ``(image, generator) -> image``.
    """

    def __init__(self, job: DreamJob) -> None:
        self.job = job
        self.param = job.parametrization or PixelParametrization()
        self.optimizer = OPTIMIZERS[job.optimizer](self.param.setup(job.image.detach()), lr=job.lr)
        self.phases = by_phase(job.regularizers)
        self.transform = compose_transforms(self.phases["transform"])
        self.attribution = torch.zeros_like(job.image[:, :1]) if job.attribute else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.job.steps}, optimizer={self.job.optimizer!r})"

    def step(self, activations: dict[str, torch.Tensor]) -> torch.Tensor:
        """One optimizer step on :attr:`param`; returns each item's objective (detached).

        ``activations`` is where the objective's layers are captured during each forward.
        """
        self.optimizer.zero_grad(set_to_none=True)
        image = filter_gradient(self.param.image(), self.phases["gradient"])
        watch = None if self.attribution is None else image.register_hook(self.attribute)
        score = self.climb(image, activations)
        if watch is not None:
            watch.remove()  # a hook on plain pixels (a leaf) would stay for every later step
        self.optimizer.step()
        return score

    def attribute(self, gradient: torch.Tensor) -> None:
        """Add the magnitude of the loss's gradient at the rendered picture (before the gradient filters),
        summed over the channels, to :attr:`attribution`."""
        assert self.attribution is not None
        self.attribution += gradient.detach().abs().sum(1, keepdim=True)

    def climb(self, image: torch.Tensor, activations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Backpropagate the loss of one forward pass of ``image``; return each item's objective (detached).

        The loss is minus the objective plus the penalties, computed on ``image`` after the transform phase;
        ``image`` is the rendered image, or any tensor of the model's input shape that requires grad (a tile).
        """
        job = self.job
        view = self.transform(image, job.generator)
        score = job.objective(DreamOutputs(job.model(view), job.targets, activations))
        objective = score
        for regularizer in self.phases["penalty"]:
            objective = objective - regularizer.penalty(view)
        (-objective.sum()).backward()
        return score.detach()

    def run(self) -> DreamResult:
        """Make ``job.steps`` steps and return the result.

        The objective's layers are captured (the forward stopped early when it
        needs no logits). A step whose objective or image is not finite ends
        the run with the last finite image and a message
        (:meth:`divergence_message`). A ``KeyboardInterrupt`` (Ctrl-C, or an
        ``on_step`` that stops the run) becomes :class:`~dreamengine.DreamInterrupted`, carrying the last
        finished step's image.
        """
        job = self.job
        with torch.no_grad():
            last_good = self.param.image().detach().clone()
            for regularizer in job.regularizers:
                regularizer.begin(last_good)
        scores = torch.full((last_good.shape[0],), float("nan"), device=last_good.device)
        frames = [last_good.clone()] if job.save_every else []  # kept on the device until the loop ends
        done = 0
        try:
            with job.model.capture(job.objective.layers, stop_early=not job.objective.needs_logits) as activations:
                for number in range(1, job.steps + 1):
                    score = self.step(activations)
                    with torch.no_grad():
                        image = project(self.param, self.phases["project"], job.generator)
                    if not torch.isfinite(score.sum() + image.sum()):  # one reduction and one sync: NaN/inf propagate
                        ending = _ending(frames, last_good, job, done)
                        message = self.divergence_message(job, number)
                        return self.result(last_good, scores, done, ending, diverged=message)
                    last_good.copy_(image.detach())
                    scores, done = score, number
                    if job.save_every and number % job.save_every == 0:
                        frames.append(last_good.clone())
                    if job.on_step is not None:
                        job.on_step(number, scores)
        except KeyboardInterrupt:
            ending = _ending(frames, last_good, job, done)
            raise DreamInterrupted(self.result(last_good, scores, done, ending, interrupted=True)) from None
        return self.result(last_good, scores, job.steps, _ending(frames, last_good, job, job.steps))

    def result(
        self,
        image: torch.Tensor,
        scores: torch.Tensor,
        done: int,
        frames: list[torch.Tensor],
        diverged: str | None = None,
        interrupted: bool = False,
    ) -> DreamResult:
        """The :class:`~dreamengine.DreamResult` of ``done`` steps, on the CPU, with the attribution map if asked."""
        attribution = None if self.attribution is None else self.attribution.cpu()
        return DreamResult(image.cpu(), scores.cpu(), done, frames, diverged, interrupted, attribution)

    @staticmethod
    def divergence_message(job: DreamJob, step: int) -> str:
        """The message for a run of ``job`` whose objective or image stopped being finite at ``step`` (counted
        as the user asked for the steps: a strategy of several loops counts over all of them)."""
        kept = (
            f"The last finite image (step {step - 1}) was kept." if step > 1 else "No step finished: nothing was kept."
        )
        return (
            f"the dream diverged at step {step} (the objective or the image stopped being finite) "
            f"with {job.optimizer} at learning rate {job.lr:g}; try a lower learning rate, e.g. --lr {job.lr / 10:g}. "
            + kept
        )


def _ending(frames: list[torch.Tensor], image: torch.Tensor, job: DreamJob, done: int) -> list[torch.Tensor]:
    """The frames on the CPU, the last of them the dream as it ended (``image``, after ``done`` steps), also when
    ``done`` is not a multiple of ``job.save_every``."""
    if job.save_every and done % job.save_every:
        frames = [*frames, image]
    return [frame.cpu() for frame in frames]


def run_job(job: DreamJob) -> DreamResult:
    """Run ``job`` with its loop (``job.make_loop``, by default :class:`DreamLoop`) and return its result."""
    return (job.make_loop or DreamLoop)(job).run()


@hookimpl(trylast=True)
def dreamengine_run_dream(job: DreamJob) -> DreamResult:
    """The default loop: :func:`run_job`."""
    return run_job(job)
