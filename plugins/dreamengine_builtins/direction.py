"""Built-in objective ``direction``: a direction in a layer's channel space, read from a file (Lucid's direction)."""

from __future__ import annotations

import torch

from dreamengine import DreamError, DreamOutputs, Objective, hookimpl, read_vector

__all__ = ["Direction"]

#: Lucid's floor on the cosine similarity before its power, and its epsilon against zero lengths.
_COSSIM_FLOOR, _EPS = 0.1, 1e-4


class Direction(Objective):
    """Maximise a direction in a layer's channel space: the dot product of each position's features with a vector.

    A channel is a direction with a single weight; a direction mixes channels,
    as one found by a probe, a concept vector or a factorisation does. The
    value is the mean over positions of the dot product; with ``cossim_pow``
    above 0 each product is weighted by its cosine similarity (floored at 0.1)
    to that power, which favours features that point the same way over ones
    that are merely large (Lucid's ``direction``).

    Args:
        layer: dotted module name (e.g. ``blocks.4``).
        path: the vector, one weight per channel of ``layer``: ``.pt`` (``torch.save``), ``.npy``, or a text
            file of numbers.
        cossim_pow: the power of the cosine similarity; 0 (the default) is the plain dot product.

    Example:
        ``python -c "import torch; torch.save(torch.randn(80), 'dir.pt')"`` then
        ``dreamengine run --objective direction:blocks.4:path=dir.pt``
    """

    needs_logits = False
    uses_classes = False

    def __init__(self, layer: str, path: str, cossim_pow: float = 0.0) -> None:
        if cossim_pow < 0:
            raise ValueError(f"cossim_pow must be >= 0, got {cossim_pow}")
        self.layer, self.path, self.cossim_pow = layer, path, cossim_pow
        self.layers = (layer,)
        self._vector: torch.Tensor | None = None

    def prepare(self, model):
        self._vector = read_vector(self.path)
        self._check_length(model.layer_output(self.layer))

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        if self._vector is None:
            raise DreamError(f"direction:{self.layer} was not prepared (call prepare(model)).")
        activation = outputs.activations[self.layer]
        self._check_length(activation)
        if self._vector.device != activation.device:  # read before the model moved to its device: moved once
            self._vector = self._vector.to(activation.device)
        vector = self._vector.view(1, -1, *[1] * (activation.dim() - 2))
        dot = (activation * vector).sum(1)
        if self.cossim_pow:
            cossim = dot / (_EPS + activation.norm(dim=1)) / (_EPS + self._vector.norm())
            dot = dot * cossim.clamp_min(_COSSIM_FLOOR) ** self.cossim_pow
        return dot.reshape(len(dot), -1).mean(1)

    def _check_length(self, activation: torch.Tensor) -> None:
        if activation.dim() < 2 or activation.shape[1] != len(self._vector):
            raise DreamError(
                f"the direction in {self.path!r} has {len(self._vector)} weights, but layer "
                f"{self.layer!r} has {activation.shape[1] if activation.dim() > 1 else 1} channels."
            )


@hookimpl
def dreamengine_register_objectives(register):
    """Register ``direction``."""
    register("direction", Direction)
