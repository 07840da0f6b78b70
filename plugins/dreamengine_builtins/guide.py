"""Built-in objective ``guide``: dream toward a guide picture (DeepDream's "controlling dreams")."""

from __future__ import annotations

import torch
from PIL import ImageOps

from dreamengine import DreamError, DreamOutputs, Objective, hookimpl, load_image, to_tensor

__all__ = ["Guide", "best_matches"]

#: positions of the dream matched against the guide at a time, so that a large dream at an early layer
#: never holds its whole (positions x guide positions) table of dot products.
_CHUNK = 4096


def best_matches(dream: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """For each position of each dream, the guide position whose feature has the largest dot product with it.

    Args:
        dream: ``(batch, channels, positions)`` features.
        guide: ``(channels, guide_positions)`` features.

    Returns:
        ``(batch, positions)`` indices into the guide's positions.
    """
    with torch.no_grad():
        columns = dream.detach().transpose(1, 2)
        return torch.cat([(part @ guide).argmax(2) for part in columns.split(_CHUNK, dim=1)], dim=1)


class Guide(Objective):
    """Dream toward a guide picture: each position of a layer's feature map grows like the guide's best match.

    The guide is shown to the model once; then at every step each position of
    the dream's feature map is matched with the guide's feature it is most
    alike (largest dot product), and the objective is the mean dot product of
    the pairs. The dream takes on the guide's textures and parts in its own
    layout: the guided DeepDream of Google's original notebook.

    Args:
        layer: dotted module name with a ``(batch, channels, height, width)`` output. A middle layer
            (``blocks.4`` of the default model) carries textures and parts; a late one, objects.
        path: the guide picture, shown to the model at its input size (its shape kept).

    Example:
        ``dreamengine run --objective guide:blocks.4:path=flowers.jpg --init photo:path=cat.jpg``
    """

    needs_logits = False
    uses_classes = False

    def __init__(self, layer: str, path: str) -> None:
        self.layer, self.path = layer, path
        self.layers = (layer,)
        self._guide: torch.Tensor | None = None

    def prepare(self, model):
        picture = ImageOps.contain(load_image(self.path), tuple(reversed(model.input_size)))
        self._guide = _feature_map(model.layer_output(self.layer, to_tensor(picture)[None]), self.layer)[0]

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        if self._guide is None:
            raise DreamError(f"guide:{self.layer} was not prepared with a model (call prepare(model)).")
        dream = _feature_map(outputs.activations[self.layer], self.layer)
        if self._guide.device != dream.device:  # prepared with the model elsewhere (moved since): moved once
            self._guide = self._guide.to(dream.device)
        matched = self._guide[:, best_matches(dream, self._guide)].transpose(0, 1)  # (batch, channels, positions)
        return (dream * matched).sum(1).mean(1)


def _feature_map(activation: torch.Tensor, layer: str) -> torch.Tensor:
    """``activation`` as ``(batch, channels, positions)``, or an error for a layer without a feature map."""
    if activation.dim() != 4:
        raise DreamError(f"layer {layer!r} has no feature map (its output is {tuple(activation.shape[1:])}): "
                         "a guide needs a (channels, height, width) output; `dreamengine layers` lists them.")
    return activation.flatten(2)


@hookimpl
def dreamengine_register_objectives(register):
    """Register ``guide``."""
    register("guide", Guide)
