"""`dreamengine demo-data`: write the offline demo dataset."""

from __future__ import annotations

import click

from dreamengine.cli.group import TorchCommand, cli
from dreamengine.cli.once import once
from dreamengine.cli.output import console
from dreamengine.run.config import MAX_SEED

# Drawing the pictures imports torch: it is imported in the command, not here, because `dreamengine --help`
# imports every command's module and should start at once (see TorchCommand).


@cli.command("demo-data", cls=TorchCommand)
@click.argument("directory", type=click.Path(file_okay=False))
@once("--per-class", type=int, default=60, show_default=True, help="Images per class (train + val).")
@once("--val-fraction", type=float, default=0.2, show_default=True, help="Share of each class in val/.")
@once("--size", type=int, default=64, show_default=True, help="Image size in pixels (square).")
@once("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
def demo_data_command(directory: str, per_class: int, val_fraction: float, size: int, seed: int) -> None:
    """Write a small image dataset to DIRECTORY (train/ and val/), no download needed.

    Its classes differ in ways you can see: blue discs, green horizontal
    stripes, red vertical stripes and yellow checks, over noisy gray.
    """
    from dreamengine.training.demo_data import DEMO_CLASSES, write_demo_data

    counts = write_demo_data(directory, per_class=per_class, val_fraction=val_fraction, size=size, seed=seed)
    console.print(
        f"wrote {counts['train']} training and {counts['val']} validation images of "
        f"{len(DEMO_CLASSES)} classes ({', '.join(DEMO_CLASSES)}) to {directory}",
        highlight=False,
    )
