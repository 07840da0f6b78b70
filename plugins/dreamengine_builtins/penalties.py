"""Built-in penalties: total variation and the L2 norm of the image, each subtracted from the objective.

A penalty (:meth:`dreamengine.Regularizer.penalty`) is a differentiable cost per
batch item, computed on the image the network sees; the loop subtracts it from
the objective, so the dream lowers it. A new regularizer that adds to the loss
belongs here; one that changes the stored image between steps belongs in
``projections.py``, one that changes only what the network sees in
``transforms.py``.
"""

from __future__ import annotations

import math

import torch

from dreamengine import Regularizer, hookimpl

__all__ = ["total_variation", "l2_norm", "TotalVariation", "L2"]


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels, per item.

    Args:
        image: ``(batch, channels, height, width)``.

    Returns:
        ``(batch,)``: vertical plus horizontal mean neighbour difference; 0 for
        a constant image, at most 2 for an image in [0, 1].
    """
    total = image.new_zeros(image.shape[0])
    for diff in (image.diff(dim=-2), image.diff(dim=-1)):
        if diff.numel():
            total = total + diff.abs().flatten(1).mean(1)
    return total


def l2_norm(image: torch.Tensor, center: float = 0.5) -> torch.Tensor:
    """Root mean square distance of each item's pixels from ``center``, shape ``(batch,)``."""
    return (image - center).square().flatten(1).mean(1).add(1e-12).sqrt()


def _check_weight(weight: float) -> float:
    if not (weight >= 0 and math.isfinite(weight)):
        raise ValueError(f"weight must be a finite number >= 0, got {weight}")
    return weight


class TotalVariation(Regularizer):
    """Total-variation penalty (``weight`` x mean neighbour difference): smoother dreams, less pixel noise."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = _check_weight(weight)

    def penalty(self, image):
        return self.weight * total_variation(image)


class L2(Regularizer):
    """L2 penalty (``weight`` x RMS distance from mid-gray ``center``): keeps colours from saturating."""

    def __init__(self, weight: float = 1.0, center: float = 0.5) -> None:
        self.weight = _check_weight(weight)
        self.center = center

    def penalty(self, image):
        return self.weight * l2_norm(image, self.center)


@hookimpl
def dreamengine_register_regularizers(register):
    """Register ``tv`` and ``l2``."""
    register("tv", TotalVariation)
    register("l2", L2)
