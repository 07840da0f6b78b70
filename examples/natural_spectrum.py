"""Make the natural-image magnitude spectrum that the ``maco`` parametrization ships with.

MACO (Fel et al., 2023) optimises only the phase of a picture's Fourier spectrum and keeps its magnitude fixed
to that of natural photographs. Horama downloads its magnitude at run time; dreamengine ships its own, made by
this script from the colour photographs scikit-image ships (``skimage.data``: nothing is downloaded), so the
file can be made again, and checked (``tests/test_maco.py`` runs this script and compares):

- each photograph, in [0, 1], has its per-channel mean taken away and its colours decorrelated with the inverse
  of the colour matrix the ``fft`` and ``maco`` parametrizations mix with (Lucid's square root of ImageNet's
  colour correlation), the space in which ``maco`` draws its pictures;
- every ``SIZE``-pixel square crop at a stride of ``SIZE // 4`` is windowed (Hann, so the crop's edges add no
  false high frequencies) and transformed (``torch.fft.rfft2``, "ortho");
- the magnitudes are averaged over all crops of all photographs, per channel, and stored as float32,
  ``(3, SIZE, SIZE // 2 + 1)``, in ``rfft2``'s layout (rows: frequencies 0, 1, ..., then the negative ones).

    python examples/natural_spectrum.py                    # writes plugins/dreamengine_builtins/natural_spectrum.npy
    python examples/natural_spectrum.py --output other.npy
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

#: scikit-image's colour photographs of everyday scenes (its drawings, micrographs and sky are left out)
PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "rocket")
#: the side of the square crops, and so of the spectrum (``maco`` resizes it to each picture's size)
SIZE = 256
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "plugins" / "dreamengine_builtins" / "natural_spectrum.npy"


def photographs() -> list[torch.Tensor]:
    """The photographs, each ``(3, H, W)`` float32 in [0, 1]."""
    from skimage import data

    return [torch.from_numpy(getattr(data, name)()).permute(2, 0, 1).float() / 255 for name in PHOTOGRAPHS]


def magnitude(pictures: list[torch.Tensor], size: int = SIZE) -> torch.Tensor:
    """The mean magnitude spectrum ``(3, size, size // 2 + 1)`` of every windowed ``size`` crop of ``pictures``, in
    decorrelated colours."""
    from dreamengine_builtins.parametrizations import colour_matrix

    uncolour = torch.linalg.inv(colour_matrix())
    window = torch.hann_window(size, periodic=False)
    window = window[:, None] * window[None, :]
    total, count = torch.zeros(3, size, size // 2 + 1), 0
    for picture in pictures:
        picture = picture - picture.mean(dim=(1, 2), keepdim=True)
        picture = (uncolour @ picture.flatten(1)).view_as(picture)
        crops = picture.unfold(1, size, size // 4).unfold(2, size, size // 4)  # (3, rows, columns, size, size)
        crops = crops.permute(1, 2, 0, 3, 4).reshape(-1, 3, size, size)
        total += torch.fft.rfft2(crops * window, norm="ortho").abs().sum(dim=0)
        count += len(crops)
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    spectrum = magnitude(photographs())
    np.save(args.output, spectrum.numpy().astype(np.float32))
    print(f"wrote {args.output}: {tuple(spectrum.shape)}, from {', '.join(PHOTOGRAPHS)}")


if __name__ == "__main__":
    main()
