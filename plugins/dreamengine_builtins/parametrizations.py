"""Built-in image parametrizations: plain pixels, and Lucid's scaled Fourier basis with decorrelated colour."""

from __future__ import annotations

import torch

from dreamengine import Parametrization, PixelParametrization, hookimpl

__all__ = ["Pixel", "Fourier"]

# Square root of ImageNet's colour correlation (from Lucid), normalised by its largest column norm.
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOUR = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()
_EPS = 1e-4
# Lucid divides the rendered spectrum by 4 so that early steps do not saturate the sigmoid.
_DAMPING = 4.0


class Pixel(PixelParametrization):
    """Optimise the pixels themselves (the report's setup)."""


class Fourier(Parametrization):
    """Optimise a scaled Fourier spectrum with decorrelated colours, rendered through a sigmoid (as in Lucid).

    Low frequencies get larger steps than high ones (``1/f**decay``), which
    favours large shapes over pixel noise; the sigmoid keeps the image in
    (0, 1) without clamping.
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
        self._scale = frequencies.pow(-self.decay)
        self._size = (height, width)
        self._colour = _COLOUR.to(image.device) if self.decorrelate else torch.eye(3, device=image.device)
        self._uncolour = torch.linalg.inv(self._colour)
        self.spectrum = torch.zeros(*image.shape[:2], height, width // 2 + 1, 2, device=image.device)
        with torch.no_grad():
            self.assign(image)
        self.spectrum.requires_grad_(True)
        return [self.spectrum]

    def image(self):
        spectrum = torch.view_as_complex(self.spectrum) * self._scale
        spatial = torch.fft.irfftn(spectrum, s=self._size, norm="ortho") / _DAMPING
        return torch.sigmoid(_mix(self._colour, spatial))

    def assign(self, image):
        logits = torch.logit(image.clamp(_EPS, 1 - _EPS))
        spatial = _mix(self._uncolour, logits)
        spectrum = torch.fft.rfftn(spatial * _DAMPING, s=self._size, norm="ortho") / self._scale
        self.spectrum.copy_(torch.view_as_real(spectrum))


def _mix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Mix the channels of ``image`` ``(batch, 3, H, W)`` by ``matrix`` (output channel ``d`` = sum over ``c`` of
    ``matrix[d, c] * image[:, c]``); a matmul over the flattened pixels, faster than ``einsum``'s batched one."""
    return (matrix @ image.flatten(2)).view_as(image)


@hookimpl
def dreamengine_register_parametrizations(register):
    """Register ``pixel`` and ``fft``."""
    register("pixel", Pixel)
    register("fft", Fourier)
