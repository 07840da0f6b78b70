"""Built-in regularizer ``mask``: dream only where a mask picture is light; elsewhere the start stays."""

from __future__ import annotations

import torch
from PIL import Image, ImageOps

from dreamengine import DreamError, Regularizer, hookimpl, load_image, to_tensor

__all__ = ["Mask"]


class Mask(Regularizer):
    """Dream only where a mask picture is light: after each step, where it is dark the start comes back.

    The mask is read as gray levels: white dreams fully, black keeps the start
    (the photo you dream on), and gray mixes the two, so a blurred mask blends
    the edges. It is fitted to each loop's image as a photo start is (scaled,
    cropped about its centre to the same shape), at every octave's size.

    Args:
        path: the mask picture, the shape of the start photo (any size).
        invert: dream where the mask is dark instead.

    Example:
        ``dreamengine run --preset deepdream --init photo:path=me.jpg --reg +mask:path=sky.png``
    """

    def __init__(self, path: str, invert: bool = False) -> None:
        self.path, self.invert = path, invert
        self._mask = ImageOps.grayscale(load_image(path))  # read now: a missing mask fails before the model loads
        self._start: torch.Tensor | None = None
        self._weight: torch.Tensor | None = None

    def begin(self, image):
        height, width = image.shape[-2:]
        weight = to_tensor(ImageOps.fit(self._mask, (width, height), method=Image.Resampling.BILINEAR).convert("RGB"))
        weight = weight[:1][None].to(image.device)  # (1, 1, height, width): one weight a pixel, for every item
        self._weight = 1 - weight if self.invert else weight
        self._start = image.detach().clone()

    def project(self, image, generator):
        if self._start is None or self._start.shape != image.shape:
            raise DreamError(f"mask:path={self.path} sees an image it did not begin with (call begin(image) first).")
        return torch.lerp(self._start, image, self._weight)


@hookimpl
def dreamengine_register_regularizers(register):
    """Register ``mask``."""
    register("mask", Mask)
