"""The ``dreamengine tv`` command: how smooth are these images?"""

from __future__ import annotations

import click

__all__ = ["tv_command"]


@click.command("tv")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--squared", is_flag=True, help="Squared neighbour differences (as smooth:squared=true).")
def tv_command(images: tuple[str, ...], squared: bool) -> None:
    """Print the total variation of image files: lower is smoother.

    One "VALUE  PATH" line per image. Compare dreams made with different `--reg smooth:weight=...` settings, e.g.
    `dreamengine tv dreams/*.png | sort -n`. (From dreamengine-extras.)
    """
    import numpy as np  # here, not at the top: this module is imported for `dreamengine --help`
    import torch

    from dreamengine import load_image

    from .regularizers import total_variation

    for path in images:
        array = np.asarray(load_image(path), dtype=np.float32) / 255
        image = torch.from_numpy(array.copy()).permute(2, 0, 1)[None]
        click.echo(f"{float(total_variation(image, squared=squared)[0]):.4f}  {path}")
