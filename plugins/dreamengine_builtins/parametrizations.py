"""Built-in image parametrizations: plain pixels, Lucid's scaled Fourier basis with decorrelated colour, and
MACO's phase-only spectrum (Fel et al., 2023).

``maco`` optimises only the phase of the picture's spectrum. The magnitude stays that of natural photographs, so
the picture keeps a photograph's balance of coarse and fine detail (its sharpness) by construction, whatever the
objective asks; only the phase, where the shapes are, moves. The magnitude ships with the package
(``natural_spectrum.npy``, made by ``examples/natural_spectrum.py`` from scikit-image's photographs:
docs/quality.md) and is resized to each picture's size, as Horama resizes its own.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dreamengine import Parametrization, PixelParametrization, hookimpl

__all__ = ["Pixel", "Fourier", "Maco", "colour_matrix", "natural_magnitude"]

# Square root of ImageNet's colour correlation (from Lucid), normalised by its largest column norm.
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOUR = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()
_EPS = 1e-4


def colour_matrix() -> torch.Tensor:
    """The ``(3, 3)`` matrix that turns decorrelated colours into RGB (a copy): ``fft`` and ``maco`` draw their
    pictures in decorrelated colours and mix them with it."""
    return _COLOUR.clone()


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


SPECTRUM = Path(__file__).with_name("natural_spectrum.npy")


@cache
def _shipped() -> torch.Tensor:
    return torch.from_numpy(np.load(SPECTRUM))


def natural_magnitude(height: int, width: int) -> torch.Tensor:
    """The natural-image magnitude spectrum for a ``height`` x ``width`` picture: ``(3, height, width // 2 + 1)``,
    in decorrelated colours and ``torch.fft.rfft2``'s layout, scaled to a mean of 1."""
    shipped = _shipped()
    if shipped.shape[-2:] != (height, width // 2 + 1):
        shipped = F.interpolate(shipped[None], size=(height, width // 2 + 1), mode="bilinear", antialias=True)[0]
    return shipped / shipped.mean()


class Maco(Parametrization):
    """Optimise the phase of the picture's spectrum; its magnitude stays a natural photograph's (MACO).

    Pictures come out with a photograph's sharpness and no pixel noise, so no blur is needed. Starting from a
    picture (``--init photo:...``) keeps that picture's phase, its shapes; a flat start has no phase, and starts
    from a random one (the same for every run: the seed draws the rest).

    Projections (``clamp``, ``blur``) find nothing to do, so leave them out of ``--reg``: :meth:`assign` keeps the
    phase of the image it is given and puts the natural magnitude back, so the picture after :meth:`assign` is the
    nearest one this parametrization can draw, not the image itself.

    Args:
        contrast: how far the standardised picture spreads before the sigmoid (larger: more saturated colours).
        rate: radians of phase per unit of the optimised tensor, the learning rate's scale: at 10, Adam at the
            default ``--lr 0.05`` turns a phase by up to half a radian a step.
    """

    exact = False

    def __init__(self, contrast: float = 2.0, rate: float = 10.0) -> None:
        if contrast <= 0:
            raise ValueError(f"contrast must be > 0, got {contrast}")
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.contrast = contrast
        self.rate = rate

    def setup(self, image):
        height, width = image.shape[-2:]
        self._size = (height, width)
        self._magnitude = natural_magnitude(height, width).to(image.device)
        self._colour = colour_matrix().to(image.device)
        self._uncolour = torch.linalg.inv(self._colour)
        self.phase = torch.zeros(*image.shape[:2], height, width // 2 + 1, device=image.device)
        with torch.no_grad():
            self.assign(image)
        self.phase.requires_grad_(True)
        return [self.phase]

    def image(self):
        spectrum = torch.polar(self._magnitude, self.phase * self.rate)
        spatial = torch.fft.irfft2(spectrum, s=self._size, norm="ortho")
        spatial = spatial - spatial.mean(dim=(1, 2, 3), keepdim=True)
        spatial = spatial / (spatial.std(dim=(1, 2, 3), keepdim=True) + _EPS)
        return torch.sigmoid(self.contrast * _mix(self._colour, spatial))

    def assign(self, image):
        logits = torch.logit(image.clamp(_EPS, 1 - _EPS))
        spatial = _mix(self._uncolour, logits)
        spectrum = torch.fft.rfft2(spatial - spatial.mean(dim=(-2, -1), keepdim=True), norm="ortho")
        phase = spectrum.angle()
        flat = spectrum.abs() <= _EPS * spectrum.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(_EPS)
        if flat.any():  # no phase to keep (a flat picture): a random one, the same each time
            generator = torch.Generator().manual_seed(0)
            drawn = (torch.rand(phase.shape, generator=generator) * 2 - 1) * torch.pi
            phase = torch.where(flat, drawn.to(phase.device), phase)
        self.phase.copy_(phase / self.rate)


@hookimpl
def dreamengine_register_parametrizations(register):
    """Register ``pixel``, ``fft`` and ``maco``."""
    register("pixel", Pixel)
    register("fft", Fourier)
    register("maco", Maco)
