"""The ``octaves`` strategy: dream at a small scale, upscale, continue, carrying the detail between scales.

Octave ``k`` of ``count`` dreams at ``1 / scale ** (count - 1 - k)`` of the
full size. Its start image is the start image resized to that size plus the
detail dreamed so far (the dream minus its start), upscaled: large shapes form
at the small scales and finer detail is added at the larger ones, as in the
classic DeepDream. Each octave is one ordinary loop at a fixed input shape.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from dreamengine import DreamLoop, DreamResult, Strategy, hookimpl

__all__ = ["resize", "octave_sizes", "split_steps", "counted_from", "Octaves"]

#: The most octaves one run takes: far more than anyone dreams at (DeepDream uses 4 to 8).
MAX_OCTAVES = 64


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``(batch, channels, H, W)`` to ``size`` (antialiased when shrinking)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def octave_sizes(height: int, width: int, count: int, scale: float, smallest: int = 8) -> list[tuple[int, int]]:
    """The ``(height, width)`` of each octave, smallest first, the last the full size; never below ``smallest``."""
    sizes = []
    for k in range(count):
        try:
            factor = scale ** (count - 1 - k)
        except OverflowError:  # so small an octave is the smallest size
            factor = math.inf
        sizes.append(
            (max(smallest, min(height, round(height / factor))), max(smallest, min(width, round(width / factor))))
        )
    return sizes


def split_steps(steps: int, count: int) -> list[int]:
    """Share ``steps`` among ``count`` octaves as evenly as possible, any remainder to the larger octaves."""
    base, extra = divmod(steps, count)
    return [base + (1 if k >= count - extra else 0) for k in range(count)]


class Octaves(Strategy):
    """Dream at ``count`` scales, each ``scale`` times the last, carrying the detail up (classic DeepDream).

    Args:
        count: number of octaves (1 is a plain run).
        scale: size ratio between consecutive octaves.
        per_octave: run ``--steps`` steps at every octave instead of sharing them out.
    """

    def __init__(self, count: int = 4, scale: float = 1.4, per_octave: bool = False) -> None:
        if not 1 <= count <= MAX_OCTAVES:
            raise ValueError(f"count must be 1 to {MAX_OCTAVES}, got {count}")
        if scale < 1:
            raise ValueError(f"scale must be at least 1, got {scale}")
        self.count = count
        self.scale = scale
        self.per_octave = per_octave

    def total_steps(self, steps):
        return steps * self.count if self.per_octave else steps

    def run(self, job, loop):
        start = job.image
        sizes = octave_sizes(*start.shape[-2:], self.count, self.scale)
        steps = [job.steps] * self.count if self.per_octave else split_steps(job.steps, self.count)
        detail = torch.zeros_like(resize(start, sizes[0]))
        done, frames, result, attribution = 0, [], None, None
        for size, octave_steps in zip(sizes, steps):
            if octave_steps == 0:
                continue
            base = resize(start, size)
            image = (base + resize(detail, size)).clamp(0, 1)
            on_step = counted_from(done, job.on_step)
            result = loop(dataclasses.replace(job, image=image, steps=octave_steps, on_step=on_step))
            later = result.frames[1:] if frames else result.frames  # an octave's start is the last one's end, upscaled
            frames += [resize(frame, start.shape[-2:]) for frame in later]
            attribution = summed(attribution, result.attribution, start.shape[-2:])
            if result.diverged:  # name the step counted over all octaves, as the user asked for them
                diverged = DreamLoop.divergence_message(job, done + result.steps_done + 1)
                image = resize(result.image, start.shape[-2:])
                return DreamResult(image, result.scores, done + result.steps_done, frames, diverged, False, attribution)
            done += result.steps_done
            detail = result.image.to(start.device) - base
        image = resize(result.image, start.shape[-2:])
        return DreamResult(image, result.scores, done, frames, attribution=attribution)


def summed(total: torch.Tensor | None, octave: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor | None:
    """The attribution maps so far (``total``) with an octave's added, resized to the picture's ``size``."""
    if octave is None:
        return total
    octave = resize(octave, size)
    return octave if total is None else total + octave


def counted_from(done: int, on_step):
    """``on_step`` for a stage that starts after ``done`` steps: it sees the steps counted over the whole run."""
    if on_step is None:
        return None
    return lambda step, scores: on_step(done + step, scores)


@hookimpl
def dreamengine_register_strategies(register):
    """Register ``octaves``."""
    register("octaves", Octaves)
