"""Built-in random transforms for each step's forward pass: flip, jitter, roll, scale and rotate.

A transform changes only what the network sees in one step (:meth:`dreamengine.Regularizer.transform`, or
:meth:`~dreamengine.Regularizer.warp` for a geometric one). It acts inside the autograd graph, so the stored image
never changes: the step lands on the untransformed image, which is how the transform is "undone". A new regularizer
that changes the stored image between steps belongs in ``projections.py`` instead, one added to the loss in
``penalties.py``.

Every draw is a scalar from the generator passed in (the CPU's), so a dream on a GPU never builds a tensor on one
device to use it on another. Scale and rotate are warps (:meth:`dreamengine.Regularizer.warp`): they resample into a
frame of the image's own size, so the network's input shape stays fixed from step to step (a changing shape makes the
CPU's math library re-plan every step, about twice as slow), and side by side they are resampled once, together.
"""

from __future__ import annotations

import torch

from dreamengine import Regularizer, hookimpl, rotation, zoom

__all__ = ["Flip", "Jitter", "Roll", "Scale", "Rotate"]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


class Flip(Regularizer):
    """Flip the image left-right at random (probability p) for each step's forward pass."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p

    def transform(self, image, generator):
        if torch.rand((), generator=generator, device=generator.device).item() < self.p:
            return image.flip(-1)
        return image


class Jitter(Regularizer):
    """Shift the image by a random offset of up to ``pixels`` (circularly) for each step.

    The shift lives inside the autograd graph, so the step lands on the
    unshifted image: the jitter is undone after every step.
    """

    def __init__(self, pixels: int = 8) -> None:
        if pixels < 0:
            raise ValueError(f"pixels must be >= 0, got {pixels}")
        self.pixels = pixels

    def transform(self, image, generator):
        if self.pixels == 0:
            return image
        dy, dx = torch.randint(
            -self.pixels, self.pixels + 1, (2,), generator=generator, device=generator.device
        ).tolist()
        return torch.roll(image, shifts=(dy, dx), dims=(-2, -1))


class Roll(Regularizer):
    """Shift the image circularly by a random offset for each step (Lucid's roll; any offset unless ``pixels`` caps it).

    Unlike ``jitter``, whose small shifts keep the picture in place, an uncapped
    roll moves the image's wrap-around seam anywhere, so no spot of the dream
    is always at the border of the network's view.
    """

    def __init__(self, pixels: int | None = None) -> None:
        if pixels is not None and pixels < 0:
            raise ValueError(f"pixels must be >= 0, got {pixels}")
        self.pixels = pixels

    def transform(self, image, generator):
        height, width = image.shape[-2:]
        limit_y = height - 1 if self.pixels is None else min(self.pixels, height - 1)
        limit_x = width - 1 if self.pixels is None else min(self.pixels, width - 1)
        dy = int(torch.randint(-limit_y, limit_y + 1, (), generator=generator))
        dx = int(torch.randint(-limit_x, limit_x + 1, (), generator=generator))
        return torch.roll(image, shifts=(dy, dx), dims=(-2, -1))


class Scale(Regularizer):
    """Zoom by a random factor in [min, max] for each step, resampled into the same frame."""

    def __init__(self, min: float = 0.9, max: float = 1.1) -> None:
        if not 0 < min <= max:
            raise ValueError(f"need 0 < min <= max, got min={min}, max={max}")
        self.min = min
        self.max = max

    def warp(self, generator, height, width):
        return zoom(_uniform(generator, self.min, self.max))


class Rotate(Regularizer):
    """Rotate by a random angle in [-degrees, degrees] for each step, resampled into the same frame."""

    def __init__(self, degrees: float = 5.0) -> None:
        if not 0 <= degrees <= 180:
            raise ValueError(f"degrees must be in [0, 180], got {degrees}")
        self.degrees = degrees

    def warp(self, generator, height, width):
        return rotation(_uniform(generator, -self.degrees, self.degrees), height, width)


@hookimpl
def dreamengine_register_regularizers(register):
    """Register ``flip``, ``jitter``, ``roll``, ``scale`` and ``rotate``."""
    register("flip", Flip)
    register("jitter", Jitter)
    register("roll", Roll)
    register("scale", Scale)
    register("rotate", Rotate)
