"""Geometric transforms as affine maps, and one resample for a run of them.

A regularizer whose transform is geometric (zoom, rotation, shear) returns the
step's map from :meth:`~dreamengine.Regularizer.warp` instead of resampling
the image itself. :func:`dreamengine.compose_transforms` then multiplies the maps of
consecutive warping regularizers and resamples once: the image is interpolated
once instead of once per transform (less blur), and a step pays for one
resample and its backward instead of several (on the CPU the backward of a
224x224 resample costs about 2-3 ms).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["IDENTITY", "Warp", "compose", "resample", "rotation", "zoom"]

#: An affine map of the image plane, as the two rows ``((a, b, c), (d, e, f))``: the output pixel at
#: ``(x, y)`` is read from the input at ``(a*x + b*y + c, d*x + e*y + f)``. Coordinates are normalised
#: to [-1, 1] across each axis, x left to right and y top to bottom, ``-1`` and ``1`` being the outer
#: edges of the border pixels (``align_corners=False`` in ``torch.nn.functional.affine_grid``'s terms).
Warp = tuple[tuple[float, float, float], tuple[float, float, float]]

IDENTITY: Warp = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def zoom(factor: float) -> Warp:
    """The warp that zooms by ``factor`` about the centre: above 1 enlarges the content (crops), below 1 shrinks it."""
    return ((1.0 / factor, 0.0, 0.0), (0.0, 1.0 / factor, 0.0))


def rotation(degrees: float, height: int, width: int) -> Warp:
    """The warp that rotates an image of ``height`` x ``width`` by ``degrees`` (counter-clockwise) about the centre."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    # Coordinates are normalised per axis; the aspect ratios keep the rotation rigid in pixel space.
    return ((cos, -sin * height / width, 0.0), (sin * width / height, cos, 0.0))


def compose(first: Warp, then: Warp) -> Warp:
    """The warp that applies ``first`` to the image, then ``then`` to the result.

    The result reads the input at ``first(then(p))``: the last transform's map
    is applied to the output position first.
    """
    (a, b, c), (d, e, f) = first
    (g, h, i), (j, k, m) = then
    return ((a * g + b * j, a * h + b * k, a * i + b * m + c), (d * g + e * j, d * h + e * k, d * i + e * m + f))


def resample(image: torch.Tensor, warp: Warp) -> torch.Tensor:
    """Resample ``image`` ``(batch, channels, H, W)`` through ``warp``, into a frame of the same shape.

    Bilinear; positions outside the image are reflected back in, so every
    value lies within the input's range and a constant image stays constant.
    Differentiable with respect to ``image``. The map is applied from plain
    floats, so nothing moves between devices.
    """
    if warp == IDENTITY:
        return image
    batch, channels, height, width = image.shape
    (a, b, c), (d, e, f) = warp
    xs = _centres(width, image)
    ys = _centres(height, image)[:, None]
    grid = torch.stack(((xs * a + c) + ys * b, (xs * d + f) + ys * e), dim=-1)
    # One channel per batch item: the CPU kernel splits its work over the batch, so a
    # batch of one image would run its backward on one thread.
    planes = image.reshape(batch * channels, 1, height, width)
    out = F.grid_sample(
        planes,
        grid.expand(batch * channels, height, width, 2),
        mode="bilinear",
        padding_mode="reflection",
        align_corners=False,
    )
    return out.view(batch, channels, height, width)


def _centres(size: int, like: torch.Tensor) -> torch.Tensor:
    """Normalised coordinates of the centres of ``size`` pixels along one axis."""
    return torch.arange(size, dtype=like.dtype, device=like.device).mul_(2.0 / size).add_(1.0 / size - 1.0)
