"""A parametrization of its own: the image as a Laplacian pyramid, coarse levels first.

The optimizer changes a stack of images at halving sizes; the dream is their
sum, each level upsampled to full size. A value of a coarse level stands for
a whole block of pixels, so an optimizer that takes steps of one size per
value (Adam) moves large shapes as readily as single pixels: the dream
gathers into bigger forms, without leaving pixel space (Lucid's "Laplacian
pyramid"; the built-in ``fft`` reaches a similar end through frequencies).

Measured on the default model (128x128, 80 steps, no octaves, default
regularizers, seed 0): total variation 0.057 against ``pixel``'s 0.069 (larger
patches of colour), flamingo logit 41.5 against 40.3 (``fft``: 0.018, 39.9).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dreamengine import Parametrization

__all__ = ["level_sizes", "Pyramid"]


def level_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """The size of each level, the full size first, each next one half the last (rounded up, at least 1)."""
    sizes = [(height, width)]
    while len(sizes) < levels:
        last_height, last_width = sizes[-1]
        sizes.append((max(1, -(-last_height // 2)), max(1, -(-last_width // 2))))
    return sizes


class Pyramid(Parametrization):
    """Optimise a Laplacian pyramid of ``levels`` images at halving sizes, summed into the dream.

    Each level counts ``1/levels``, so the image changes no faster than with
    plain pixels; ``levels=1`` is plain pixels. The rendered image is not clamped (as with
    ``pixel``): keep ``clamp`` among the regularizers. :meth:`assign` is
    exact: it keeps the coarse levels and puts the difference into the finest.
    """

    def __init__(self, levels: int = 4) -> None:
        if not 1 <= levels <= 8:
            raise ValueError(f"levels must be from 1 to 8, got {levels}")
        self.levels = levels

    def setup(self, image: torch.Tensor) -> list[torch.Tensor]:
        batch, channels, height, width = image.shape
        self._size = (height, width)
        coarse = [image.new_zeros(batch, channels, *size) for size in level_sizes(height, width, self.levels)[1:]]
        self.pyramid = [image / self._weight, *coarse]
        for level in self.pyramid:
            level.requires_grad_(True)
        return list(self.pyramid)

    def image(self) -> torch.Tensor:
        return (self.pyramid[0] + self._coarse()) * self._weight

    def assign(self, image: torch.Tensor) -> None:
        self.pyramid[0].copy_(image / self._weight - self._coarse())

    @property
    def _weight(self) -> float:
        """What each level counts in the image: ``1/levels``, so that a step of the same size on every level
        (as Adam takes) changes the image no more than a step on the pixels would."""
        return 1.0 / self.levels

    def _coarse(self) -> torch.Tensor | float:
        """The coarse levels, each upsampled to full size, summed (0 for a pyramid of one level)."""
        return sum(
            (F.interpolate(level, size=self._size, mode="bilinear", align_corners=False) for level in self.pyramid[1:]),
            start=0.0,
        )
