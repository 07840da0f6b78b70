"""Receptive fields: the input pixels one cell of a layer's feature map looks at, measured on the model itself.

The *theoretical* receptive field of a cell (every pixel its value depends on
at all) grows by the kernel size at each convolution: past the middle of a
modern CNN it covers the whole picture, so a crop of it says nothing. What a
unit responds to is its *effective* receptive field (Luo et al., 2016, "Understanding the
Effective Receptive Field in Deep Convolutional Neural Networks"): the
gradient of the cell with respect to the input is roughly Gaussian, and most
of its mass sits in a small square around the cell's centre.

So the field is measured, not derived from the architecture: for each of a few seeded noise pictures twice
the atlas size (so that no border cuts the field short), one forward stopped at the layer and one backward from
the centre cell of the map (all channels, the model's parameters frozen); the field is the smallest square about
the centre of the gradient's absolute value (its centroid) that holds :data:`MASS` of it. Works for any network
:meth:`~dreamengine.DreamModel.capture` reaches, whatever its padding, dilation or branches. With ``mass=1`` it
is the theoretical field (where the gradient is not zero).

Where a cell sits in the picture is cheap and analytic: a map of ``h x w`` cells on an ``H x W`` picture has
a stride of ``H / h`` by ``W / w`` pixels; the measured gradient's centre, minus the analytic centre of the
cell it came from, gives the offset (a padding that shifts the grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dreamengine.engine.model import DreamModel

__all__ = ["MASS", "ReceptiveField", "receptive_field", "mass_extent"]

#: The share of the gradient's absolute mass the effective receptive field holds. A Gaussian holds 80 % of its
#: mass within about 1.3 standard deviations either way per axis (a square holding 80 % is about 2.6 sigma wide):
#: what a unit mostly sees, without the faint tail that covers the whole picture in deep layers.
MASS = 0.8
#: Noise images the gradient is averaged over: one image's gradient has holes where its ReLUs are off.
SAMPLES = 4


@dataclass(frozen=True)
class ReceptiveField:
    """Where a cell of a layer's map sits in the input picture, and how much of it the cell sees.

    Attributes:
        size: ``(height, width)`` of the field in input pixels (at most the picture's).
        stride: ``(y, x)`` input pixels per map cell.
        offset: ``(y, x)`` pixels by which the measured centre of a cell lies from its analytic centre
            ``((row + 0.5) * stride_y, (column + 0.5) * stride_x)`` (continuous coordinates: pixel ``i``
            spans ``[i, i + 1)``).
    """

    size: tuple[int, int]
    stride: tuple[float, float]
    offset: tuple[float, float] = (0.0, 0.0)

    def centre(self, row: int, column: int) -> tuple[float, float]:
        """The ``(y, x)`` centre of map cell ``(row, column)`` in continuous input-pixel coordinates."""
        return (
            (row + 0.5) * self.stride[0] + self.offset[0],
            (column + 0.5) * self.stride[1] + self.offset[1],
        )

    def box(self, row: int, column: int, height: int, width: int) -> tuple[int, int, int, int]:
        """The field of cell ``(row, column)`` as ``(left, top, right, bottom)`` pixels (right and bottom
        exclusive), clipped to a ``height x width`` picture; never empty."""
        cy, cx = self.centre(row, column)
        top, bottom = _span(cy, self.size[0], height)
        left, right = _span(cx, self.size[1], width)
        return left, top, right, bottom


def _span(centre: float, size: int, limit: int) -> tuple[int, int]:
    """``size`` pixels about ``centre``, clipped to ``[0, limit)``, at least one pixel."""
    start = math.floor(centre - size / 2 + 0.5)
    first = min(max(start, 0), limit - 1)
    return first, max(min(start + size, limit), first + 1)


def receptive_field(
    model: DreamModel,
    layer: str,
    size: tuple[int, int] | None = None,
    *,
    mass: float = MASS,
    samples: int = SAMPLES,
    seed: int = 0,
) -> ReceptiveField | None:
    """Measure the effective receptive field of ``layer`` for pictures of ``size`` (default: the model's input
    size), as the module docstring describes; ``None`` for a layer whose output is not a feature map
    ``(batch, channels, height, width)`` (a transformer's tokens, a classifier's logits): its cells have no place
    in the picture.

    The gradient is measured on noise pictures twice the size, from their centre cell, so that the picture's
    border does not cut the field of a deep layer short (nor pull its centre inwards); the field is then at most
    ``size``. The stride is ``size / map size`` at ``size`` itself: exact where ``size`` is a multiple of the
    network's total stride (128 and 224 are for the timm CNNs, whose total stride is at most 32).
    """
    height, width = size or model.input_size
    training = model.training
    try:
        return _measure(model, layer, (height, width), mass, samples, seed)
    finally:
        model.train(training)


def _measure(
    model: DreamModel, layer: str, size: tuple[int, int], mass: float, samples: int, seed: int
) -> ReceptiveField | None:
    height, width = size
    shape = model.layer_output(layer, torch.full((1, 3, height, width), 0.5)).shape
    if len(shape) != 4:
        return None
    stride = (height / shape[2], width / shape[3])
    canvas = (height, width) if model.fixed_size else (2 * height, 2 * width)
    weight, (row, column), canvas_stride = _centre_gradient(model, layer, canvas, samples, seed)
    if not weight.sum() > 0:  # every path from the cell was off: nothing measured, the whole picture
        return ReceptiveField((height, width), stride)
    (cy, cx), (field_height, field_width) = mass_extent(weight, mass)
    analytic = ((row + 0.5) * canvas_stride[0], (column + 0.5) * canvas_stride[1])
    return ReceptiveField(
        (min(field_height, height), min(field_width, width)), stride, (cy - analytic[0], cx - analytic[1])
    )


def _centre_gradient(
    model: DreamModel, layer: str, canvas: tuple[int, int], samples: int, seed: int
) -> tuple[torch.Tensor, tuple[int, int], tuple[float, float]]:
    """The absolute gradient ``(height, width)`` of the centre cell of ``layer``'s map (all channels) with
    respect to ``samples`` seeded noise pictures of ``canvas`` size, summed over them and their colours; the
    cell, and the map's stride on the canvas."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.zeros(canvas, dtype=torch.float64)
    for _ in range(samples):  # one at a time: a quarter of the memory, the same sum (eval mode: no batch effects)
        image = torch.rand(1, 3, *canvas, generator=generator).to(model.mean.device).requires_grad_(True)
        with torch.enable_grad(), model.capture([layer], stop_early=True) as seen:
            model.eval()(image)
            output = seen[layer]
            rows, columns = output.shape[-2:]
            row, column = rows // 2, columns // 2
            (gradient,) = torch.autograd.grad(output[:, :, row, column].sum(), image)
        weight += gradient.detach().abs().sum((0, 1)).double().cpu()
    return weight, (row, column), (canvas[0] / rows, canvas[1] / columns)


def mass_extent(weight: torch.Tensor, mass: float = MASS) -> tuple[tuple[float, float], tuple[int, int]]:
    """The centre of a non-negative ``(height, width)`` weight map (its centroid, continuous coordinates) and
    the ``(height, width)`` in pixels of the smallest square window about it that holds ``mass`` of the
    total weight (clipped to the map)."""
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass}")
    height, width = weight.shape
    total = weight.sum()
    ys = torch.arange(height, dtype=weight.dtype) + 0.5
    xs = torch.arange(width, dtype=weight.dtype) + 0.5
    cy = float((weight.sum(1) * ys).sum() / total)
    cx = float((weight.sum(0) * xs).sum() / total)
    dy, dx = (ys - cy).abs(), (xs - cx).abs()
    distance = torch.maximum(dy[:, None], dx[None, :]).flatten()  # a pixel's square "radius" from the centre
    order = torch.argsort(distance, stable=True)
    held = weight.flatten()[order].cumsum(0)
    # the first pixel (in order of distance) after which the window holds enough; small slack for rounding
    last = int(torch.searchsorted(held, total * mass * (1 - 1e-9)).clamp(max=len(held) - 1))
    radius = distance[order][last]
    return (cy, cx), (int((dy <= radius).sum()), int((dx <= radius).sum()))
