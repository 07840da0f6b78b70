"""Objectives: the target logit with a push towards diversity across the batch."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dreamengine import DreamOutputs, Objective

__all__ = ["gram_similarity", "Diversity"]


def gram_similarity(activation: torch.Tensor) -> torch.Tensor:
    """How alike each batch item is to the others, by the style (Gram matrix) of its features.

    Args:
        activation: ``(batch, channels, ...)`` features of one layer.

    Returns:
        ``(batch,)``: the mean cosine similarity between the item's Gram
        matrix and every other item's, in [-1, 1]; 0 for a batch of one.
    """
    batch, channels = activation.shape[:2]
    if batch < 2:
        return activation.new_zeros(batch)
    features = activation.reshape(batch, channels, -1)
    gram = features @ features.transpose(1, 2) / features.shape[-1]
    unit = F.normalize(gram.flatten(1), dim=1)
    similarity = unit @ unit.T
    return (similarity.sum(1) - similarity.diagonal()) / (batch - 1)


class Diversity(Objective):
    """The target's logit minus how alike the batch's dreams look at a layer: several takes on a class.

    Dream several items of one class in one batch, from a random start, and
    each comes out different (Lucid's diversity objective)::

        dreamengine run -c flamingo -c flamingo -c flamingo --init noise \\
            --objective diverse-logit:layer=blocks.3

    Measured so on the default model (128x128, 30 steps, ``--param pixel``):
    the three dreams' mean Gram similarity at ``blocks.3`` is 0.24 with the default weight and
    0.78 with ``weight=0``, while each keeps a flamingo logit of 12 to 31.

    Args:
        layer: dotted module name whose features are compared (mid-level layers
            compare textures and parts).
        weight: how much likeness between items counts against the logit.
    """

    compares_items = True  # the engine warns when items of one class start alike: they would stay alike

    def __init__(self, layer: str, weight: float = 10.0) -> None:
        if not layer:
            raise ValueError("layer must name a module, e.g. layer=blocks.3")
        if not (weight >= 0 and math.isfinite(weight)):
            raise ValueError(f"weight must be a finite number >= 0, got {weight}")
        self.layer = layer
        self.weight = weight
        self.layers = (layer,)

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        logit = outputs.logits.gather(1, outputs.targets[:, None])[:, 0]
        return logit - self.weight * gram_similarity(outputs.activations[self.layer])
