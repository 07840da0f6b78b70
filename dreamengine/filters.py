"""Image filters that components share: a Gaussian blur for images and gradients.

A filter maps a ``(batch, channels, height, width)`` tensor to one of the same
shape, treats each batch item on its own (batched dreams stay independent),
and is differentiable, so it can act on the image, inside the forward pass, or
on the gradient.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["gaussian_blur"]


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel with a separable Gaussian of standard deviation ``sigma`` pixels.

    Args:
        image: ``(batch, channels, height, width)``.
        sigma: in pixels; 0 returns the image unchanged.

    Returns:
        The blurred image, same shape and dtype. Edges are reflected, so a
        constant image stays constant and every output lies within its item's
        range in the input.
    """
    if sigma <= 0:
        return image
    radius = min(max(1, math.ceil(3 * sigma)), image.shape[-1] - 1, image.shape[-2] - 1)
    if radius < 1:
        return image
    weights = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-radius, radius + 1)]
    weights = [w / sum(weights) for w in weights]
    # Padding both axes at once and blurring the padded rows too gives the same result as padding
    # each axis before its pass, at half the cost (a reflect pad is the slowest part of a small blur).
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    out = _blur_along(_blur_along(padded, weights, dim=-1), weights, dim=-2)
    if not out.numel():
        return out
    items = tuple(range(1, image.dim()))  # each item's own range: batched dreams stay independent
    return out.clamp(image.amin(items, keepdim=True), image.amax(items, keepdim=True))


def _blur_along(padded: torch.Tensor, weights: list[float], dim: int) -> torch.Tensor:
    """Convolve along ``dim`` with ``weights`` (odd length), dropping the padding: a sum of shifted slices,
    for small kernels several times faster on the CPU than a depthwise conv2d."""
    size = padded.shape[dim] - len(weights) + 1
    out = padded.narrow(dim, 0, size) * weights[0]
    for offset, weight in enumerate(weights[1:], start=1):
        out.add_(padded.narrow(dim, offset, size), alpha=weight)
    return out
