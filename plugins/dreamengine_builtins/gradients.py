"""Built-in gradient filters: normalisation and smoothing of the gradient before each step.

They act in the ``gradient`` phase, on the gradient with respect to the
rendered image, so they work with every parametrization.
"""

from __future__ import annotations

import torch

from dreamengine import Regularizer, gaussian_blur, hookimpl

__all__ = ["normalise_gradient", "GradNorm", "GradBlur"]

_EPS = 1e-8
_MODES = ("std", "mean-abs")


def normalise_gradient(grad: torch.Tensor, mode: str = "std") -> torch.Tensor:
    """Divide each item's gradient by its standard deviation or its mean absolute value.

    Args:
        grad: ``(batch, ...)``.
        mode: ``std`` or ``mean-abs`` (classic DeepDream).

    Returns:
        The same shape; each item has std 1 (or mean |g| 1). A zero gradient
        stays zero (the divisor has a floor).
    """
    flat = grad.flatten(1)
    scale = flat.std(1, correction=0) if mode == "std" else flat.abs().mean(1)
    return grad / scale.clamp_min(_EPS).view(-1, *[1] * (grad.dim() - 1))


class GradNorm(Regularizer):
    """Normalise the gradient of each item, by ``mode`` std or mean-abs, so every step has the same size."""

    def __init__(self, mode: str = "std") -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
        self.mode = mode

    def gradient(self, grad):
        return normalise_gradient(grad, self.mode)


class GradBlur(Regularizer):
    """Blur the gradient (Gaussian, ``sigma`` pixels) before each step: smoother, lower-frequency changes."""

    def __init__(self, sigma: float = 1.0) -> None:
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self.sigma = sigma

    def gradient(self, grad):
        return gaussian_blur(grad, self.sigma)


@hookimpl
def dreamengine_register_regularizers(register):
    """Register ``gradnorm`` and ``gradblur``."""
    register("gradnorm", GradNorm)
    register("gradblur", GradBlur)
