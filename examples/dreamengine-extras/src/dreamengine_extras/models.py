"""A model of its own, served by name through ``dreamengine_load_model``: ``colours:red,teal,...``.

A loader hook answers names no registry lists, here a family of names: the
classes are in the name. ``colours:NAME,NAME,...`` is a tiny network, built
on the spot with no weights to download, that scores how close each pixel is
to each named colour; its logit for a colour is the mean over pixels. Dream
``-c teal`` with it and the picture turns teal: a model whose every layer and
class a person can read, for trying objectives, parametrizations and plugins.
"""

from __future__ import annotations

import torch
from torch import nn

from dreamengine import DreamError, DreamModel

from .colours import colour

__all__ = ["PREFIX", "ColourDistance", "colour_net", "load"]

#: The names this loader answers start so; every other name is declined.
PREFIX = "colours:"


class ColourDistance(nn.Module):
    """Minus the squared distance of each pixel to each colour: ``(batch, 3, H, W)`` -> ``(batch, colours, H, W)``."""

    def __init__(self, colours: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("colours", colours)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return -(image[:, None] - self.colours[None, :, :, None, None]).square().sum(2)


def colour_net(names: list[str]) -> nn.Sequential:
    """The network: ``distance`` (per pixel and colour), ``pool`` and ``flatten`` to ``(batch, colours)`` logits."""
    net = nn.Sequential()
    net.add_module("distance", ColourDistance(torch.stack([colour(name) for name in names])))
    net.add_module("pool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flatten", nn.Flatten())
    net.num_classes = len(names)
    return net


def load(name: str, num_classes: int | None = None) -> DreamModel | None:
    """The model ``name`` asks for, or ``None`` when the name is not this loader's.

    Its classes are the colours named; ``num_classes``, if given, must be their number (the network has no
    weights to retrain: it cannot grow a class the name does not have).
    """
    if not name.startswith(PREFIX):
        return None
    names = [part.strip() for part in name[len(PREFIX) :].split(",") if part.strip()]
    if len(names) < 2:
        raise DreamError(f"model {name!r}: name two colours or more, e.g. colours:red,teal")
    if num_classes is not None and num_classes != len(names):
        raise DreamError(f"model {name!r} has {len(names)} classes, one per colour; {num_classes} were asked for")
    try:
        net = colour_net(names)
    except ValueError as error:
        raise DreamError(f"model {name!r}: {error}") from None
    # The net reads pixels in [0, 1] as they are: mean 0, std 1.
    return DreamModel(net, name=name, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), input_size=(64, 64), class_names=names)
