"""Colours by name, as the initializers' options and the ``colours:`` model's classes spell them."""

from __future__ import annotations

import torch
from PIL import ImageColor

__all__ = ["colour"]


def colour(text: str) -> torch.Tensor:
    """An RGB colour in [0, 1] from a name (``pink``) or hex (``#ff8800``), as a ``(3,)`` tensor."""
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a colour (use a name like 'pink' or hex like '#ff8800')") from None
    return torch.tensor(rgb[:3], dtype=torch.float32) / 255
