"""How a picture looks, in three numbers: colourfulness, contrast and sharpness (issue 20's measures).

Each is a pure function of an RGB picture, given as an ``(H, W, 3)`` array of
floats in [0, 1] or of ``uint8``. Gray is the ITU-R BT.601 luma
``0.299 R + 0.587 G + 0.114 B`` (as PIL's ``convert("L")``), in [0, 1].

* :func:`colourfulness`: Hasler & Süsstrunk's M, on the 0-255 scale. With
  ``rg = R - G`` and ``yb = (R + G) / 2 - B``,
  ``M = sqrt(std(rg)² + std(yb)²) + 0.3 sqrt(mean(rg)² + mean(yb)²)``.
  0 is gray; the authors call 33 moderately and 59 highly colourful.
  (D. Hasler and S. Süsstrunk, "Measuring colourfulness in natural images",
  Proc. SPIE 5007, Human Vision and Electronic Imaging VIII, 2003.)
* :func:`contrast`: RMS contrast, the standard deviation of gray (E. Peli,
  "Contrast in complex images", JOSA A 7(10), 1990). Half black, half white is 0.5.
* :func:`sharpness`: the standard deviation of the 4-neighbour Laplacian
  ``g[y-1,x] + g[y+1,x] + g[y,x-1] + g[y,x+1] - 4 g[y,x]`` of gray over the
  interior pixels, with the picture first resized to 224x224 (PIL's
  antialiased bilinear filter), so that a figure does not depend on the
  picture's size. Fine detail raises it, a soft haze lowers it, pixel noise
  raises it far above a photograph's (about 0.1).

scikit-image's sample photographs score 38-77, 0.12-0.30 and 0.06-0.13.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["LUMA", "SHARPNESS_SIZE", "colourfulness", "contrast", "sharpness", "measure"]

#: ITU-R BT.601 weights of R, G and B in gray.
LUMA = (0.299, 0.587, 0.114)
#: Side, in pixels, of the square a picture is resized to before its sharpness is measured.
SHARPNESS_SIZE = 224


def _rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as float64 RGB in [0, 1], ``(H, W, 3)``: ``uint8`` is divided by 255, floats are taken as they are."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB picture, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array / 255.0
    return array.astype(np.float64)


def _gray(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of ``image``, in [0, 1]."""
    return _rgb(image) @ np.array(LUMA)


def colourfulness(image: np.ndarray) -> float:
    """Hasler & Süsstrunk's colourfulness M of an RGB picture, on the 0-255 scale (0: gray).

    Args:
        image: ``(H, W, 3)``, floats in [0, 1] or ``uint8``.
    """
    rgb = _rgb(image) * 255.0
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = red - green, (red + green) / 2 - blue
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def contrast(image: np.ndarray) -> float:
    """RMS contrast of an RGB picture: the standard deviation of its gray, in [0, 0.5].

    Args:
        image: ``(H, W, 3)``, floats in [0, 1] or ``uint8``.
    """
    return float(_gray(image).std())


def sharpness(image: np.ndarray) -> float:
    """The standard deviation of the 4-neighbour Laplacian of an RGB picture's gray, resized to 224x224.

    A picture already 224x224 is not resampled; the border pixels, which lack a neighbour, are left out.

    Args:
        image: ``(H, W, 3)``, floats in [0, 1] or ``uint8``.
    """
    gray = _gray(image)
    if gray.shape != (SHARPNESS_SIZE, SHARPNESS_SIZE):
        picture = Image.fromarray(gray.astype(np.float32))  # mode "F"
        resized = picture.resize((SHARPNESS_SIZE, SHARPNESS_SIZE), Image.Resampling.BILINEAR)
        gray = np.asarray(resized, dtype=np.float64)
    laplacian = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * gray[1:-1, 1:-1]
    return float(laplacian.std())


def measure(image: np.ndarray) -> dict[str, float]:
    """All three measures of an RGB picture, by name: ``colourfulness``, ``contrast``, ``sharpness``."""
    return {"colourfulness": colourfulness(image), "contrast": contrast(image), "sharpness": sharpness(image)}
