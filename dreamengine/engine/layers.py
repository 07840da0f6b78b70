"""The layers of a model, as the ``layer`` objective names them: their outputs and what a forward to them costs."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

import torch
from torch import nn

from dreamengine.engine.model import DreamModel, channels_first

__all__ = ["Layer", "model_layers"]


@dataclass(frozen=True)
class Layer:
    """One sub-module of a model's network.

    Attributes:
        name: its dotted name, as ``layer:NAME`` takes it.
        kind: its class name (``Conv2d``, ``Sequential``, ...).
        shape: its output's shape for one image at the model's input size, without the batch
            (``(channels, height, width)`` for a feature map, ``(channels, tokens)`` for a transformer's tokens:
            channels first, as objectives see it); ``None`` if the output is not one tensor.
        cost: the share of a full forward's multiply-adds (those of its convolutions and linear layers) done
            when its output is ready, from 0 to 1: what a forward stopped there costs. ``None`` if a forward
            does not run it.
    """

    name: str
    kind: str
    shape: tuple[int, ...] | None
    cost: float | None


def model_layers(model: DreamModel, pattern: str | None = None, levels: int = 2) -> list[Layer]:
    """The layers of ``model`` in the order a forward finishes them (those it never runs last).

    ``pattern`` (shell wildcards) picks layers by name at any nesting level;
    without it, only names of at most ``levels`` dotted parts are listed
    (``blocks.4`` has two). ``Identity`` modules, which repeat their input,
    are left out. One forward of a gray image at the model's input size,
    without gradients, gives each output's shape and cost.
    """
    modules = [
        (name, module) for name, module in model.net.named_modules() if name and not isinstance(module, nn.Identity)
    ]
    done = 0
    finished: dict[str, tuple[int, int, tuple[int, ...] | None]] = {}  # name -> (order, work done, shape)

    def record(name):
        def hook(module, _inputs, output):
            nonlocal done
            done += _multiply_adds(module, output)
            shape = tuple(channels_first(output).shape[1:]) if isinstance(output, torch.Tensor) else None
            finished.setdefault(name, (len(finished), done, shape))

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in modules]
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.full((1, 3, *model.input_size), 0.5, device=model.mean.device))
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    total = max(done, 1)
    layers = [
        Layer(
            name,
            type(module).__name__,
            finished[name][2] if name in finished else None,
            finished[name][1] / total if name in finished else None,
        )
        for name, module in modules
    ]
    order = {name: position for name, (position, _, _) in finished.items()}
    wanted = [
        layer
        for layer in layers
        if (fnmatch.fnmatchcase(layer.name, pattern) if pattern else layer.name.count(".") < levels)
    ]
    return sorted(wanted, key=lambda layer: order.get(layer.name, len(order)))


def _multiply_adds(module: nn.Module, output: object) -> int:
    """The multiply-adds of one call of a convolution or linear layer (0 for any other module)."""
    if not isinstance(output, torch.Tensor):
        return 0
    if isinstance(module, nn.Conv2d):
        return output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0
