"""The ``dreamengine tv`` command: how smooth are these images?

A plugin's command module is imported whenever the command line starts, even
for ``--help``; so it imports only click at the top, and torch when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import torch

__all__ = ["total_variation", "tv_command"]


def total_variation(image: torch.Tensor, *, squared: bool = False) -> torch.Tensor:
    """Mean difference between neighbouring pixels of each image.

    Args:
        image: ``(batch, channels, height, width)``.
        squared: average squared differences instead of absolute ones (punishes
            sharp edges more, faint noise less).

    Returns:
        ``(batch,)``: the vertical plus the horizontal mean neighbour difference;
        0 for a constant image, at most 2 for an image in [0, 1]. A direction
        with a single row or column adds 0.
    """
    total = image.new_zeros(image.shape[0])
    for diff in (image.diff(dim=-2), image.diff(dim=-1)):
        if diff.numel():
            total = total + (diff.square() if squared else diff.abs()).flatten(1).mean(1)
    return total


@click.command("tv")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--squared", is_flag=True, help="Squared neighbour differences: sharp edges count more, faint noise less."
)
def tv_command(images: tuple[str, ...], squared: bool) -> None:
    """Print the total variation of image files: lower is smoother.

    One "VALUE  PATH" line per image. Compare dreams made with different `--reg tv:weight=...` settings, e.g.
    `dreamengine tv dreams/*.png | sort -n`. (From dreamengine-extras.)
    """
    # Imported here, not at the top: the command line imports this module to list the command, and
    # `dreamengine --help` must not wait for torch.
    import numpy as np
    import torch

    from dreamengine import load_image

    for path in images:
        array = np.asarray(load_image(path), dtype=np.float32) / 255
        image = torch.from_numpy(array.copy()).permute(2, 0, 1)[None]
        click.echo(f"{float(total_variation(image, squared=squared)[0]):.4f}  {path}")
