"""Built-in regularizers: clamp, Gaussian blur, random flip, random jitter.

Each has a functional form (usable on any tensor) and a component class.
Random draws are scalars taken on the generator's own device (the CPU), so a
dream on a GPU never builds a tensor on one device to use it on another.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dreamengine import Regularizer, hookimpl

__all__ = ["gaussian_blur", "Clamp", "Blur", "Flip", "Jitter"]


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


class Clamp(Regularizer):
    """Clamp every pixel to [min, max] after each step (the report's range fix)."""

    def __init__(self, min: float = 0.0, max: float = 1.0) -> None:
        if min > max:
            raise ValueError(f"min ({min}) is above max ({max})")
        self.min = min
        self.max = max

    def project(self, image, generator):
        return image.clamp(self.min, self.max)


class Blur(Regularizer):
    """Gaussian blur after each step: a fixed sigma, or one drawn per step from [sigma, sigma_max].

    The report blurred with sigma 0.5 after every step, and also tried sigma
    drawn from 0.1-1.0 and 0.1-0.5 (``blur:sigma=0.1:sigma_max=1.0``).
    """

    def __init__(self, sigma: float = 0.5, sigma_max: float | None = None, every: int = 1) -> None:
        if sigma < 0 or (sigma_max is not None and sigma_max < sigma):
            raise ValueError(f"need 0 <= sigma <= sigma_max, got sigma={sigma}, sigma_max={sigma_max}")
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.sigma = sigma
        self.sigma_max = sigma_max
        self.every = every
        self._calls = 0

    def project(self, image, generator):
        self._calls += 1
        if self._calls % self.every:
            return image
        sigma = self.sigma
        if self.sigma_max is not None:
            draw = torch.rand((), generator=generator, device=generator.device).item()
            sigma += (self.sigma_max - self.sigma) * draw
        return gaussian_blur(image, sigma)


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


@hookimpl
def dreamengine_register_regularizers(register):
    """Register ``clamp``, ``blur``, ``flip`` and ``jitter``."""
    register("clamp", Clamp)
    register("blur", Blur)
    register("flip", Flip)
    register("jitter", Jitter)
