"""Initializers: a radial colour gradient and a checkerboard."""

from __future__ import annotations

import torch

from dreamengine import Initializer

from .colours import colour

__all__ = ["Radial", "Checkerboard"]


class Radial(Initializer):
    """A radial colour gradient from inner (at the centre) to outer (at the corners).

    ``power`` above 1 keeps the ``inner`` colour over a wider centre; below 1,
    a narrower one. A centred start draws the dream towards the middle.
    """

    def __init__(self, inner: str = "white", outer: str = "black", power: float = 1.0) -> None:
        if not power > 0:
            raise ValueError(f"power must be > 0, got {power}")
        self.inner = inner
        self.outer = outer
        self.power = power
        self._inner, self._outer = colour(inner), colour(outer)

    def __call__(self, batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
        ys = torch.linspace(-1, 1, height).view(-1, 1)
        xs = torch.linspace(-1, 1, width).view(1, -1)
        radius = ((xs.square() + ys.square()) / 2).sqrt().clamp(0, 1) ** self.power
        image = self._inner.view(3, 1, 1) + (self._outer - self._inner).view(3, 1, 1) * radius
        return image.expand(batch, 3, height, width).clone()


class Checkerboard(Initializer):
    """A checkerboard of squares of size pixels in colours first (top left) and second.

    A probe of what the network makes of hard edges and a regular grid.
    """

    def __init__(self, size: int = 16, first: str = "black", second: str = "white") -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1 pixel, got {size}")
        self.size = size
        self.first = first
        self.second = second
        self._first, self._second = colour(first), colour(second)

    def __call__(self, batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
        rows = torch.arange(height).view(-1, 1) // self.size
        cols = torch.arange(width).view(1, -1) // self.size
        odd = ((rows + cols) % 2).to(torch.float32)
        image = self._first.view(3, 1, 1) + (self._second - self._first).view(3, 1, 1) * odd
        return image.expand(batch, 3, height, width).clone()
