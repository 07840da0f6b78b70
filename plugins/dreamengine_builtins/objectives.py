"""Built-in objectives: class logit, cross-entropy, intermediate layer or channel."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dreamengine import DreamError, DreamOutputs, Objective, hookimpl

__all__ = ["Logit", "CrossEntropy", "Layer"]


class Logit(Objective):
    """Maximise the target class's pre-softmax activation (the report's final choice).

    Example:
        ``dreamengine run --objective logit --class flamingo``
    """

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        return outputs.logits.gather(1, outputs.targets[:, None])[:, 0]


class CrossEntropy(Objective):
    """Minimise cross-entropy to the target class (the report's first choice).

    Unlike ``logit``, this also pushes every other class down.
    """

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        return -F.cross_entropy(outputs.logits, outputs.targets, reduction="none")


class Layer(Objective):
    """Maximise an intermediate module's activation, or one channel of it.

    Args:
        layer: dotted module name, as listed by ``model.named_modules()`` (e.g. ``blocks.3``).
        channel: one channel to maximise (its mean activation); unset, the mean
            square of the whole layer (classic DeepDream).

    It reads no logits, so the forward stops right after ``layer`` has run.
    """

    needs_logits = False

    def __init__(self, layer: str, channel: int | None = None) -> None:
        self.layer = layer
        self.channel = channel
        self.layers = (layer,)

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        activation = outputs.activations[self.layer]
        if self.channel is None:
            return activation.pow(2).flatten(1).mean(1)
        if not -activation.shape[1] <= self.channel < activation.shape[1]:
            raise DreamError(f"layer {self.layer!r} has {activation.shape[1]} channels "
                             f"(0-{activation.shape[1] - 1}); there is no channel {self.channel}.")
        return activation[:, self.channel].flatten(1).mean(1)


@hookimpl
def dreamengine_register_objectives(register):
    """Register ``logit``, ``cross-entropy`` and ``layer``."""
    register("logit", Logit)
    register("cross-entropy", CrossEntropy)
    register("layer", Layer)
