"""Built-in objective ``style``: dream in the style of a picture, its features' Gram matrix at a layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from PIL import ImageOps

from dreamengine import DreamError, DreamOutputs, Objective, hookimpl, load_image, to_tensor

from .objectives import gram_matrix

__all__ = ["Style"]


class Style(Objective):
    """Dream in the style of a picture: match which of a layer's features occur together in it, wherever.

    The style is the Gram matrix of the layer's features (each pair of
    channels' product, averaged over positions), which keeps a picture's
    textures and drops its layout. The objective is the cosine similarity of
    the dream's Gram matrix to the picture's, from -1 to 1. From a flat start
    it grows the picture's texture; from a photo, with the ``deepdream`` preset,
    it redraws the photo in that texture. Several layers together (an
    expression, ``"style:blocks.2:path=s.jpg + style:blocks.3:path=s.jpg"``)
    match both fine and coarse texture.

    Args:
        layer: dotted module name (early layers: fine texture; middle ones: larger motifs).
        path: the style picture, shown to the model at its input size (its shape kept).

    Example:
        ``dreamengine run --objective style:blocks.3:path=brick.png``
    """

    needs_logits = False
    uses_classes = False

    def __init__(self, layer: str, path: str) -> None:
        self.layer, self.path = layer, path
        self.layers = (layer,)
        self._gram: torch.Tensor | None = None

    def prepare(self, model):
        picture = ImageOps.contain(load_image(self.path), tuple(reversed(model.input_size)))
        self._gram = gram_matrix(model.layer_output(self.layer, to_tensor(picture)[None]))[0]

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        if self._gram is None:
            raise DreamError(f"style:{self.layer} was not prepared with a model (call prepare(model)).")
        gram = gram_matrix(outputs.activations[self.layer])
        if self._gram.device != gram.device:  # prepared with the model elsewhere (moved since): moved once
            self._gram = self._gram.to(gram.device)
        return F.cosine_similarity(gram.flatten(1), self._gram.flatten()[None], dim=1)


@hookimpl
def dreamengine_register_objectives(register):
    """Register ``style``."""
    register("style", Style)
