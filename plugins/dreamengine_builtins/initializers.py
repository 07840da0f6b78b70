"""Built-in initializers: flat gray, colour gradient, (blurred) photo, seeded noise."""

from __future__ import annotations

import math

import torch
from PIL import Image, ImageColor

from dreamengine import Initializer, fit_image, gaussian_blur, hookimpl, load_image

__all__ = ["Gray", "Gradient", "Photo", "Noise"]


def _colour(text: str) -> torch.Tensor:
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a colour (use a name like 'pink' or hex like '#ff8800')") from None
    return torch.tensor(rgb[:3], dtype=torch.float32) / 255


class Gray(Initializer):
    """A uniform gray image; ``value`` in 0-255 (the report started from 128,128,128)."""

    def __init__(self, value: float = 128.0) -> None:
        if not 0 <= value <= 255:
            raise ValueError(f"value must be in 0..255, got {value}")
        self.value = value

    def __call__(self, batch, height, width, generator):
        return torch.full((batch, 3, height, width), self.value / 255, dtype=torch.float32)


class Gradient(Initializer):
    """A linear colour gradient from ``start`` to ``end`` along ``angle`` degrees (0: left to right, 90: top to
    bottom)."""

    def __init__(self, start: str = "#1a2a6c", end: str = "#fdbb2d", angle: float = 0.0) -> None:
        self.start = start
        self.end = end
        self.angle = angle
        self._start, self._end = _colour(start), _colour(end)

    def __call__(self, batch, height, width, generator):
        theta = math.radians(self.angle)
        ys = torch.linspace(-0.5, 0.5, height).view(-1, 1)
        xs = torch.linspace(-0.5, 0.5, width).view(1, -1)
        position = xs * math.cos(theta) + ys * math.sin(theta)
        position = (position - position.min()) / (position.max() - position.min()).clamp_min(1e-12)
        image = self._start.view(3, 1, 1) + (self._end - self._start).view(3, 1, 1) * position
        return image.expand(batch, 3, height, width).clone()


class Photo(Initializer):
    """A photo from a file, resized to the dream's size and optionally blurred (``blur`` = sigma in pixels).

    The dream keeps the photo's shape: ``--size N`` (default: the model's
    input size) is its longer side. An explicit ``WIDTHxHEIGHT`` of another
    shape crops the photo about its centre, never stretches it.
    """

    def __init__(self, path: str, blur: float = 0.0) -> None:
        if blur < 0:
            raise ValueError(f"blur must be >= 0, got {blur}")
        self.path = path
        self.blur = blur
        self._picture: Image.Image | None = None

    def aspect(self):
        width, height = self._load().size
        return width / height

    def source(self):
        return self.path

    def _load(self) -> Image.Image:
        """The photo, upright and RGB, read once."""
        if self._picture is None:
            self._picture = load_image(self.path)
        return self._picture

    def __call__(self, batch, height, width, generator):
        image = gaussian_blur(fit_image(self._load(), width, height)[None], self.blur).clamp(0, 1)
        return image.expand(batch, 3, height, width).clone()


class Noise(Initializer):
    """Seeded Gaussian noise around ``mean`` with standard deviation ``std``, clipped to [0, 1]."""

    def __init__(self, mean: float = 0.5, std: float = 0.1) -> None:
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.mean = mean
        self.std = std

    def __call__(self, batch, height, width, generator):
        noise = torch.randn((batch, 3, height, width), generator=generator)
        return (self.mean + self.std * noise).clamp(0, 1)


@hookimpl
def dreamengine_register_initializers(register):
    """Register ``gray``, ``gradient``, ``photo`` and ``noise``."""
    register("gray", Gray)
    register("gradient", Gradient)
    register("photo", Photo)
    register("noise", Noise)
