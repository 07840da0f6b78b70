"""Batch norms folded into the convolutions that feed them: the same network, one layer fewer per pair.

In a frozen model a batch norm (eval mode) is a fixed per-channel affine map.
Folded into the weights and bias of the convolution before it, it costs
nothing: for EfficientNet-Lite0 on the CPU the forward + backward to the input
takes about 0.8x the time (0.73-0.87x measured; docs/performance.md).

A pair is folded only when it is safe: the norm directly follows the
convolution among its parent's children, in a checking forward every call of
the norm reads the output of that convolution, and the folded pair gives the
same output as the original on that input. A last check compares the whole
network's output; if it differs (a convolution whose output is also used
elsewhere, say), nothing is folded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["FoldedPair", "NormRemainder", "fold_norms"]


class NormRemainder(nn.Module):
    """What is left of a folded batch norm: the dropout and activation it applied after normalising, if any.

    (timm's ``BatchNormAct2d`` applies its ``drop`` and ``act`` children after
    the norm; a plain ``BatchNorm2d`` has neither, and nothing is left.)
    """

    def __init__(self, norm: nn.BatchNorm2d) -> None:
        super().__init__()
        self.drop = getattr(norm, "drop", None) or nn.Identity()
        self.act = getattr(norm, "act", None) or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(x))


@dataclass
class FoldedPair:
    """A convolution and the batch norm after it, as attributes of ``parent``; either original or folded.

    Attributes:
        parent: the module holding both.
        conv_name, norm_name: their attribute names in ``parent``.
        path: the convolution's dotted name in the network.
        original: the convolution and the norm as they were.
        folded: the convolution with the norm folded in, and the norm's :class:`NormRemainder`.
    """

    parent: nn.Module
    conv_name: str
    norm_name: str
    path: str
    original: tuple[nn.Module, nn.Module]
    folded: tuple[nn.Module, nn.Module]

    @property
    def is_folded(self) -> bool:
        return getattr(self.parent, self.conv_name) is self.folded[0]

    def use(self, folded: bool) -> None:
        """Put the folded (or the original) modules in place."""
        conv, norm = self.folded if folded else self.original
        setattr(self.parent, self.conv_name, conv)
        setattr(self.parent, self.norm_name, norm)


def fold_norms(net: nn.Module, example: torch.Tensor, name: str = "the model") -> list[FoldedPair]:
    """Fold every batch norm of ``net`` (in eval mode) into the convolution that feeds it, where that is safe.

    ``example`` is an input the network accepts; it runs the checking forwards.
    Returns the folded pairs (already in place); an empty list (and a warning
    naming ``name``) if the folded network's output differed.
    """
    candidates = _candidates(net)
    if not candidates:
        return []
    with torch.no_grad():
        expected, seen = _observe(net, candidates, example)
        pairs = [pair for pair in map(_fold, candidates) if _agrees(pair, seen.get(id(pair.original[0])))]
        for pair in pairs:
            pair.use(folded=True)
        if pairs and not _close(net(example), expected):
            for pair in pairs:
                pair.use(folded=False)
            warnings.warn(
                f"the batch norms of {name} could not be folded into their convolutions without "
                "changing its output; it runs unfolded (--no-fold-norms skips the attempt).",
                stacklevel=2,
            )
            return []
    return pairs


def _candidates(net: nn.Module) -> list[tuple[nn.Module, str, str, str]]:
    """``(parent, conv_name, norm_name, conv_path)`` for each convolution directly followed by a matching batch norm."""
    found = []
    for path, parent in net.named_modules():
        children = list(parent.named_children())
        for (conv_name, conv), (norm_name, norm) in zip(children, children[1:]):
            if (
                isinstance(conv, nn.Conv2d)
                and isinstance(norm, nn.BatchNorm2d)
                and not conv.training
                and not norm.training
                and norm.running_mean is not None
                and norm.num_features == conv.out_channels
            ):
                found.append((parent, conv_name, norm_name, f"{path}.{conv_name}" if path else conv_name))
    return found


def _observe(
    net: nn.Module, candidates, example: torch.Tensor
) -> tuple[torch.Tensor, dict[int, tuple[torch.Tensor, torch.Tensor]]]:
    """Run ``example`` through ``net``: its output, and for each candidate pair whose norm always read its
    convolution's output, copies of the convolution's input and the norm's output at the first call (later
    in-place operations may change the originals), by ``id`` of the convolution."""
    last_output: dict[int, torch.Tensor] = {}
    seen: dict[int, tuple[torch.Tensor, torch.Tensor] | None] = {}
    inputs: dict[int, torch.Tensor] = {}
    handles = []
    for parent, conv_name, norm_name, _ in candidates:
        conv, norm = getattr(parent, conv_name), getattr(parent, norm_name)
        key = id(conv)

        def after_conv(_module, args, output, key=key):
            last_output[key] = output
            if key not in inputs:
                inputs[key] = args[0].clone()

        def after_norm(_module, args, output, key=key):
            if key not in last_output or args[0] is not last_output[key]:
                seen[key] = None  # this norm read something else: not a pair
            elif key not in seen:
                seen[key] = (inputs[key], output.clone())

        handles += [conv.register_forward_hook(after_conv), norm.register_forward_hook(after_norm)]
    try:
        output = net(example)
    finally:
        for handle in handles:
            handle.remove()
    return output, {key: value for key, value in seen.items() if value is not None}


def _fold(candidate) -> FoldedPair:
    parent, conv_name, norm_name, path = candidate
    conv, norm = getattr(parent, conv_name), getattr(parent, norm_name)
    return FoldedPair(
        parent, conv_name, norm_name, path, (conv, norm), (fuse_conv_bn_eval(conv, norm), NormRemainder(norm))
    )


def _agrees(pair: FoldedPair, seen: tuple[torch.Tensor, torch.Tensor] | None) -> bool:
    """Whether the folded pair maps the observed input to the observed output."""
    if seen is None:
        return False
    conv_input, norm_output = seen
    conv, remainder = pair.folded
    return _close(remainder(conv(conv_input)), norm_output)


def _close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    """Equal up to float32 rounding of a reordered sum, relative to the tensor's scale."""
    scale = expected.abs().max().item()
    return bool(torch.isfinite(actual).all()) and torch.allclose(actual, expected, rtol=1e-3, atol=1e-4 * scale + 1e-6)
