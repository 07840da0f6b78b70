"""Built-in image parametrizations: plain pixels, and Lucid's scaled Fourier basis with decorrelated colour."""

from __future__ import annotations

import torch

from dreamengine import Parametrization, PixelParametrization, hookimpl

__all__ = ["Pixel", "Fourier"]

# Square root of ImageNet's colour correlation (from Lucid), normalised by its largest column norm.
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOUR = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()
_EPS = 1e-4
# Lucid divides the inverse FFT by 4 so that early steps do not saturate the sigmoid
# (folded here into the spectrum's weights).
_DAMPING = 4.0


class Pixel(PixelParametrization):
    """Optimise the pixels themselves (the report's setup)."""


class Fourier(Parametrization):
    """Optimise a scaled Fourier spectrum with decorrelated colours, rendered through a sigmoid (as in Lucid).

    Low frequencies get larger steps than high ones (``1/f**decay``), which
    favours large shapes over pixel noise; the sigmoid keeps the image in
    (0, 1) without clamping.

    The first :meth:`image` after :meth:`assign` (the projections store their
    result back every step) does not render again: it returns the assigned
    image, with the render's own backward, unless the spectrum was changed in
    between. (That is checked by its version counter, which a fused optimizer
    step does not bump: hence only the first call.)
    """

    def __init__(self, decay: float = 1.0, decorrelate: bool = True) -> None:
        if decay < 0:
            raise ValueError(f"decay must be >= 0, got {decay}")
        self.decay = decay
        self.decorrelate = decorrelate

    def setup(self, image):
        height, width = image.shape[-2:]
        fy = torch.fft.fftfreq(height, device=image.device)[:, None]
        fx = torch.fft.rfftfreq(width, device=image.device)[None, :]
        frequencies = (fx * fx + fy * fy).sqrt().clamp_min(1.0 / max(height, width))
        self._weight = frequencies.pow(-self.decay) / _DAMPING
        self._size = (height, width)
        self._colour = _COLOUR.to(image.device) if self.decorrelate else torch.eye(3, device=image.device)
        self._uncolour = torch.linalg.inv(self._colour)
        self._assigned: tuple[int, torch.Tensor] | None = None
        self.spectrum = torch.zeros(*image.shape[:2], height, width // 2 + 1, 2, device=image.device)
        with torch.no_grad():
            self.assign(image)
        self.spectrum.requires_grad_(True)
        return [self.spectrum]

    def image(self):
        assigned, self._assigned = self._assigned, None
        if assigned is not None and assigned[0] == self.spectrum._version:
            return _Assigned.apply(self.spectrum, assigned[1], self._weight, self._colour)
        spatial = torch.fft.irfftn(torch.view_as_complex(self.spectrum) * self._weight, s=self._size, norm="ortho")
        return torch.sigmoid(_mix(self._colour, spatial))

    def assign(self, image):
        image = image.clamp(_EPS, 1 - _EPS)
        spatial = _mix(self._uncolour, torch.logit(image))
        spectrum = torch.fft.rfftn(spatial, s=self._size, norm="ortho") / self._weight
        self.spectrum.copy_(torch.view_as_real(spectrum))
        self._assigned = (self.spectrum._version, image)


class _Assigned(torch.autograd.Function):
    """The render of a spectrum whose image is known: returns a copy of it, and backpropagates as the render does.

    The render is ``sigmoid(colour @ irfft(spectrum * weight))``; its backward,
    written out: the sigmoid's derivative is ``image * (1 - image)``, the
    colour mix's adjoint is its transpose, and the inverse real FFT's adjoint is
    the forward one with every frequency that stands for a conjugate pair
    counted twice (as ``torch.fft.irfftn``'s own backward does).
    """

    @staticmethod
    def forward(ctx, spectrum, image, weight, colour):
        ctx.save_for_backward(image, weight, colour)
        return image.clone()

    @staticmethod
    def backward(ctx, grad):
        image, weight, colour = ctx.saved_tensors
        logits_grad = grad * image * (1 - image)
        frequencies = torch.fft.rfftn(_mix(colour.T, logits_grad), dim=(-2, -1), norm="ortho")
        paired = image.shape[-1] - frequencies.shape[-1]  # columns 1..paired stand for two conjugate frequencies
        frequencies[..., 1 : 1 + paired] *= 2
        return torch.view_as_real(frequencies * weight), None, None, None


def _mix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Mix the channels of ``image`` ``(batch, 3, H, W)`` by ``matrix`` (output channel ``d`` = sum over ``c`` of
    ``matrix[d, c] * image[:, c]``); a matmul over the flattened pixels, faster than ``einsum``'s batched one."""
    return (matrix @ image.flatten(2)).view_as(image)


@hookimpl
def dreamengine_register_parametrizations(register):
    """Register ``pixel`` and ``fft``."""
    register("pixel", Pixel)
    register("fft", Fourier)
