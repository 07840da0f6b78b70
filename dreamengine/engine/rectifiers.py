"""Rectifiers that let a dream's gradient reach a unit that is off everywhere (Lucid's redirected ReLU).

A layer whose output is a ReLU's or ReLU6's has units that are off (at the floor) at every position of a
start image; such a unit gets no gradient, the rectifier's derivative being 0 there, so gradient ascent never
moves it and its dream stays at its start. In the default model's ``bn2`` (the layer the classifier pools) 88 %
of the units are off everywhere on a gray picture of 128 pixels.

While a layer is captured for an objective (:meth:`~dreamengine.engine.model.DreamModel.capture`), the rectifier
that makes its output (:func:`output_rectifiers`) gets the backward pass Lucid uses
(``lucid.optvis.overrides.redirected_relu_grad``): where the true gradient of an image (one batch item) through
it is zero everywhere, the gradient flows instead wherever the step would move the input back into the
rectifier's open range (up from its floor, down from its ceiling). Wherever some true gradient flows it is the
true gradient, to the bit, and the forward pass is the same. Only that one rectifier is redirected: deeper in
the network the gradient reaches every image through the units that are on, and a redirected rectifier costs
an out-of-place output and a check of its gradient (a quarter more time a step, measured, were every
rectifier of EfficientNet-Lite0 redirected).
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RECTIFIERS", "RedirectedClamp", "output_rectifiers", "redirected"]

#: The modules redirected: their backward is a clamp's.
RECTIFIERS = (nn.ReLU, nn.ReLU6, nn.Hardtanh)


class RedirectedClamp(torch.autograd.Function):
    """``x.clamp(low, high)`` whose backward redirects an image's gradient when none of it gets through."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, low: float, high: float | None) -> torch.Tensor:
        """Clamp ``x`` to ``[low, high]`` (no ceiling when ``high`` is ``None``)."""
        y = torch.relu(x) if high is None else F.hardtanh(x, low, high)
        ctx.save_for_backward(y)  # as torch's own rectifiers do: y is at the floor or ceiling where x is outside
        ctx.low, ctx.high = low, high
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        """The clamp's gradient, or for an item that gets none of it, the gradient where it moves ``x`` into range."""
        (y,) = ctx.saved_tensors
        low, high = ctx.low, ctx.high
        if high is None:
            passed = torch.ops.aten.threshold_backward(grad, y, low)
        else:
            passed = torch.ops.aten.hardtanh_backward(grad, y, low, high)
        if y.dim() < 2:
            return passed, None, None
        flows = torch.any(passed != 0, dim=tuple(range(1, y.dim())), keepdim=True)
        if bool(flows.all()):
            return passed, None, None
        toward = (passed != 0) | ((y <= low) & (grad < 0))  # the loss falls as x rises: up from the floor
        if high is not None:
            toward |= (y >= high) & (grad > 0)  # down from the ceiling
        return torch.where(flows, passed, grad * toward), None, None


def _redirected(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.ReLU):
        return RedirectedClamp.apply(x, 0.0, None)
    assert isinstance(module, nn.Hardtanh)
    return RedirectedClamp.apply(x, module.min_val, module.max_val)


class _LayerSeen(Exception):
    """Ends :func:`output_rectifiers`'s forward at the layer: the rest of the network need not run."""


def output_rectifiers(net: nn.Module, layer: nn.Module, image: torch.Tensor) -> list[nn.Module]:
    """The rectifiers (:data:`RECTIFIERS`) inside ``layer`` (itself included) whose output is ``layer``'s output,
    found in one forward of ``image`` through ``net``, stopped at the layer's first output: the same memory comes
    out of both (every output is kept until then, so no two share an address by chance)."""
    candidates = [module for module in layer.modules() if type(module) in RECTIFIERS]
    if not candidates:
        return []
    outputs: dict[nn.Module, torch.Tensor] = {}
    layer_outputs: list[torch.Tensor] = []

    def keep(module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            outputs[module] = output

    def stop(_module: nn.Module, _inputs: Any, output: Any) -> None:
        layer_outputs.append(output)
        raise _LayerSeen

    handles = [module.register_forward_hook(keep) for module in candidates]
    handles.append(layer.register_forward_hook(stop))
    try:
        with torch.no_grad():
            net(image)
    except _LayerSeen:
        pass
    finally:
        for handle in handles:
            handle.remove()
    last = layer_outputs[0] if layer_outputs else None
    if not isinstance(last, torch.Tensor):
        return []
    return [module for module, output in outputs.items() if output.data_ptr() == last.data_ptr()]


@contextlib.contextmanager
def redirected(modules: Sequence[nn.Module]) -> Iterator[None]:
    """While active, ``modules`` (rectifiers) compute with the redirected backward (:class:`RedirectedClamp`)."""
    patched = [module for module in modules if "forward" not in vars(module)]
    for module in patched:
        module.forward = types.MethodType(_redirected, module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward
