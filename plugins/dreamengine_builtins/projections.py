"""Built-in projections: clamp, and Gaussian blur of everything or of the colour alone.

A projection acts on the stored image after each optimizer step, under ``no_grad``
(:meth:`dreamengine.Regularizer.project`): what it returns is the image the next
step starts from. A new regularizer that changes the image itself between steps
belongs here; one that changes only what the network sees belongs in
``transforms.py``, one added to the loss in ``penalties.py``, one that acts on the
gradient in ``gradients.py``.

Blur's functional form is :func:`dreamengine.gaussian_blur`, usable on any tensor.
Random draws are scalars taken on the generator's own device (the CPU), so a
dream on a GPU never builds a tensor on one device to use it on another.
"""

from __future__ import annotations

import torch

from dreamengine import Regularizer, gaussian_blur, hookimpl

__all__ = ["RGB_TO_YCC", "YCC_TO_RGB", "Clamp", "Blur", "ChromaBlur"]

#: RGB to ITU-R BT.601 luma and chroma ``(Y, Cb, Cr)``, full range; the chroma's offsets are left out (a blur
#: keeps them), so gray is ``(Y, 0, 0)``.
RGB_TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
YCC_TO_RGB = torch.linalg.inv(RGB_TO_YCC)


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


class ChromaBlur(Regularizer):
    """Gaussian blur of the colour alone after each step (BT.601 chroma), keeping the brightness's detail.

    A blur of all three channels takes detail and colour out together. The eye, like JPEG, resolves brightness
    far more finely than colour: blurring the chroma every step (``chromablur:sigma=1``) keeps colours in
    coherent regions, free of the rainbow speckle a large step paints, while the luma keeps its edges. Colours
    that the blur carries outside the RGB cube are clipped to it.
    """

    def __init__(self, sigma: float = 1.0, every: int = 1) -> None:
        if sigma < 0:
            raise ValueError(f"sigma must be at least 0, got {sigma}")
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.sigma = sigma
        self.every = every
        self._calls = 0

    def project(self, image, generator):
        self._calls += 1
        if self._calls % self.every or self.sigma == 0:
            return image
        ycc = torch.einsum("dc,bchw->bdhw", RGB_TO_YCC.to(image), image)
        ycc = torch.cat((ycc[:, :1], gaussian_blur(ycc[:, 1:], self.sigma)), dim=1)
        return torch.einsum("dc,bchw->bdhw", YCC_TO_RGB.to(image), ycc).clamp(0, 1)


@hookimpl
def dreamengine_register_regularizers(register):
    """Register ``clamp``, ``blur`` and ``chromablur``."""
    register("clamp", Clamp)
    register("blur", Blur)
    register("chromablur", ChromaBlur)
