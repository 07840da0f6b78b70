"""Built-in objectives toward a picture: ``guide`` (its features, position by position), ``style`` (its textures)
and ``near`` (the picture itself, as the model sees it: feature accentuation).

Each shows its picture to the model once, before the run, keeps what it needs
of the picture's features at a layer, and compares the dream's features there
with it at every step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from PIL import ImageOps

from dreamengine import DreamError, DreamOutputs, Objective, hookimpl, load_image, to_tensor

__all__ = ["PictureObjective", "Guide", "Style", "Near", "best_matches"]

#: positions of the dream matched against the guide at a time, so that a large dream at an early layer
#: never holds its whole (positions x guide positions) table of dot products.
_CHUNK = 4096


class PictureObjective(Objective):
    """An objective toward a picture's features at a layer: subclasses say what to keep of them and how to compare.

    Args:
        layer: dotted module name.
        path: the picture, shown to the model at its input size (its shape kept).
    """

    needs_logits = False
    uses_classes = False

    def __init__(self, layer: str, path: str) -> None:
        self.layer, self.path = layer, path
        self.layers = (layer,)
        self._kept: torch.Tensor | None = None

    def prepare(self, model):
        picture = ImageOps.contain(load_image(self.path), tuple(reversed(model.input_size)))
        self._kept = self.keep(model.layer_output(self.layer, to_tensor(picture)[None]))

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        if self._kept is None:
            raise DreamError(f"{self.path!r} was not shown to a model at {self.layer} (call prepare(model)).")
        activation = outputs.activations[self.layer]
        if self._kept.device != activation.device:  # prepared with the model elsewhere (moved since): moved once
            self._kept = self._kept.to(activation.device)
        return self.compare(activation, self._kept)

    def keep(self, features: torch.Tensor) -> torch.Tensor:
        """What to keep of the picture's features ``(1, channels, ...)``."""
        raise NotImplementedError

    def compare(self, activation: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        """The value to maximise for each item of the dream's ``activation``, shape ``(batch,)``."""
        raise NotImplementedError

    def _feature_map(self, activation: torch.Tensor) -> torch.Tensor:
        """``activation`` as ``(batch, channels, positions)``, or an error for a layer without a feature map."""
        if activation.dim() != 4:
            raise DreamError(
                f"layer {self.layer!r} has no feature map (its output is {tuple(activation.shape[1:])}):"
                f" a {type(self).__name__.lower()} needs a (channels, height, width) output; "
                "`dreamengine layers` lists them."
            )
        return activation.flatten(2)


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


class Guide(PictureObjective):
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

    def keep(self, features):
        return self._feature_map(features)[0]

    def compare(self, activation, kept):
        dream = self._feature_map(activation)
        matched = kept[:, best_matches(dream, kept)].transpose(0, 1)  # (batch, channels, positions)
        return (dream * matched).sum(1).mean(1)


class Style(PictureObjective):
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

    def keep(self, features):
        return _gram_matrix(self._feature_map(features))[0]

    def compare(self, activation, kept):
        return F.cosine_similarity(_gram_matrix(self._feature_map(activation)).flatten(1), kept.flatten()[None], dim=1)


class Near(PictureObjective):
    """Stay near a picture as the model sees it: minus the distance of the dream's features at a layer to the
    picture's, relative to the picture's own size there (0 at the picture, negative away from it).

    Added to another objective, from the picture itself, it makes a *feature accentuation* (Hamblin et al.,
    2024): the photograph changed just enough to drive the unit or class, which shows what in that photograph
    the unit responds to, where a dream from gray shows what it responds to anywhere. The weight sets how far
    the picture may move; an early layer keeps its details, a late one only its content.

    Args:
        layer: dotted module name with a ``(batch, channels, height, width)`` output. The picture's feature map
            is resized to the dream's where their sizes differ.
        path: the picture, shown to the model at its input size (its shape kept); start from the same one.

    Example:
        ``dreamengine run --init photo:path=cat.jpg --objective "logit:tabby + 4*near:blocks.3:path=cat.jpg"``
    """

    def keep(self, features):
        self._feature_map(features)  # a feature map, or the error that says so
        return features

    def compare(self, activation, kept):
        self._feature_map(activation)
        if kept.shape[-2:] != activation.shape[-2:]:
            kept = F.interpolate(kept, size=activation.shape[-2:], mode="bilinear", antialias=True)
        distance = (activation - kept).square().mean(dim=(1, 2, 3))
        return -distance / kept.square().mean().clamp_min(1e-12)


def _gram_matrix(activation: torch.Tensor) -> torch.Tensor:
    """Each item's ``(channels, channels)`` Gram matrix, averaged over positions (as ``diversity`` computes it)."""
    features = activation.reshape(*activation.shape[:2], -1)
    return features @ features.transpose(1, 2) / features.shape[-1]


@hookimpl
def dreamengine_register_objectives(register):
    """Register ``guide``, ``style`` and ``near``."""
    register("guide", Guide)
    register("style", Style)
    register("near", Near)
