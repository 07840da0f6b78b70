"""The ``crops`` strategy: a large canvas dreamt through random crops, as MACO dreams its posters (Fel et al., 2023).

Each step renders the whole canvas once and shows the network ``count`` square crops of it, each resized (with
antialiasing) to the network's input size. A crop's side is drawn log-uniformly between ``smallest`` times the
input size and the canvas's shorter side, and its place uniformly: the large crops shape the composition, the
small ones the detail, so a poster (``--size 1024``) has detail at every scale. Each crop is a detached copy of
the canvas, so only one crop's graph exists at a time, whatever the canvas's size; the crops' gradients are
gathered into one full-size gradient and sent through the gradient filters into the parametrization in a single
backward, as ``tile`` does.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import torch
import torch.nn.functional as F

from dreamengine import DreamJob, DreamLoop, DreamResult, Strategy, hookimpl

__all__ = ["Crops", "CroppedLoop"]


class Crops(Strategy):
    """Dream a canvas of any size through ``count`` random crops a step, each shown at the network's input size.

    Args:
        count: crops a step (each a forward and a backward at the input size).
        smallest: the smallest crop's side, in input sizes (the largest is the whole canvas).
    """

    bounds_memory = True

    def __init__(self, count: int = 4, smallest: float = 0.8) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if smallest <= 0:
            raise ValueError(f"smallest must be > 0, got {smallest}")
        self.count = count
        self.smallest = smallest

    def run(self, job, loop):
        make_loop = functools.partial(CroppedLoop, count=self.count, smallest=self.smallest)
        return loop(dataclasses.replace(job, make_loop=make_loop))


class CroppedLoop(DreamLoop):
    """The engine's loop, each step's gradient found on ``count`` random crops of the canvas."""

    def __init__(self, job: DreamJob, count: int = 4, smallest: float = 0.8) -> None:
        super().__init__(job)
        self.count = count
        self.smallest = smallest
        #: How often each pixel was seen, in steps (a crop adds ``1 / count``), where the attribution map is kept.
        self.coverage = None if self.attribution is None else torch.zeros_like(self.attribution[:1])

    def crop(self, height: int, width: int) -> tuple[int, int, int]:
        """A random crop of a ``height`` x ``width`` canvas: ``(top, left, side)``."""
        generator = self.job.generator
        largest = min(height, width)
        smallest = min(largest, max(1, round(self.smallest * min(self.job.model.input_size))))
        draw = float(torch.rand((), generator=generator))
        side = round(math.exp(math.log(smallest) + draw * (math.log(largest) - math.log(smallest))))
        top = int(torch.randint(height - side + 1, (), generator=generator))
        left = int(torch.randint(width - side + 1, (), generator=generator))
        return top, left, side

    def climb(self, image: torch.Tensor, activations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Backpropagate each crop's loss into ``image``; returns the mean objective of each item over the crops."""
        canvas = image.detach().requires_grad_(True)
        total = canvas.new_zeros(canvas.shape[0])
        size = self.job.model.input_size
        for _ in range(self.count):
            top, left, side = self.crop(*canvas.shape[-2:])
            window = canvas[..., top : top + side, left : left + side]
            view = F.interpolate(window, size=size, mode="bilinear", antialias=True, align_corners=False)
            total += super().climb(view, activations)
            if self.coverage is not None:
                self.coverage[..., top : top + side, left : left + side] += 1 / self.count
        assert canvas.grad is not None  # climb ran backward through every crop
        image.backward(canvas.grad / self.count)
        return total / self.count

    def result(self, image, scores, done, frames, diverged=None, interrupted=False) -> DreamResult:
        """The loop's result, its attribution map divided by how often each pixel was seen: the crops cover the
        middle of the canvas more often than its borders, and the map says where the objective looked, not where
        the crops fell (a pixel no crop showed stays at 0)."""
        result = super().result(image, scores, done, frames, diverged, interrupted)
        if result.attribution is None or self.coverage is None:
            return result
        coverage = self.coverage.cpu()
        seen = torch.where(coverage > 0, result.attribution / coverage.clamp_min(1e-12), 0.0)
        return dataclasses.replace(result, attribution=seen)


@hookimpl
def dreamengine_register_strategies(register):
    """Register ``crops``."""
    register("crops", Crops)
