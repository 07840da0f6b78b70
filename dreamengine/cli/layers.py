"""`dreamengine layers`: the layers of a model that the ``layer`` objective can dream, as a rich table."""

from __future__ import annotations

import warnings
from typing import Any

import click
from rich.table import Table

from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.model_options import model_config, model_label, model_options
from dreamengine.cli.once import once
from dreamengine.cli.output import console, loading

# Loading a model imports torch: it is imported in the function that uses it, not here, because `dreamengine --help`
# imports every command's module and should start at once (see TorchCommand).


@cli.command("layers", cls=TorchCommand)
@click.argument("pattern", required=False)
@model_options()
@once(
    "--levels",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Without PATTERN, list names of at most this many dotted parts (blocks.4 has two).",
)
def layers_command(pattern: str | None, levels: int, **model: Any) -> None:
    """List the layers of a model to dream with --objective layer:NAME[:CHANNEL].

    Each row gives the layer's output for one image at the model's input size
    (channels x height x width) and its cost: the share of a full forward's
    work done when its output is ready. A dream of the layer runs only that
    share of the network (and its backward), so early layers dream fast; they
    dream textures, deep ones parts and objects. PATTERN (shell wildcards)
    lists layers at any nesting level.

    \b
    Examples:
      dreamengine layers
      dreamengine layers 'blocks.4.*'
      dreamengine layers --model resnet50 --levels 1
      dreamengine layers --checkpoint checkpoints/epoch-010.pt
      dreamengine layers --model torchvision:resnet50 --weights resnet50.pth
    """
    from dreamengine.engine.layers import model_layers
    from dreamengine.run.prepare import load_model

    config = model_config(model)
    with warnings.catch_warnings(), loading(model_label(config)):
        warnings.filterwarnings("ignore", message=".*random weights.*")  # the layers do not depend on them
        loaded = load_model(get_host(), config)
        layers = model_layers(loaded, pattern, levels)
    if not layers:
        raise click.ClickException(f"no layer of {loaded.name} matches {pattern!r}.")
    height, width = loaded.input_size
    table = Table(title=f"Layers of {loaded.name} at {width}x{height}", title_justify="left")
    for column, justify in (("layer", "left"), ("module", "left"), ("output", "right"), ("cost", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for layer in layers:
        table.add_row(
            layer.name,
            layer.kind,
            " x ".join(map(str, layer.shape)) if layer.shape else "-",
            f"{layer.cost:.0%}" if layer.cost is not None else "not run",
        )
    console.print(table)
    console.print(
        "Dream one with --objective layer:NAME, one channel of it with layer:NAME:CHANNEL, or that "
        "channel at the centre of the feature map with neuron:NAME:CHANNEL; guide:NAME:path=PICTURE "
        "dreams toward a picture there, style:NAME:path=PICTURE toward its texture, and "
        "direction:NAME:path=FILE toward a mix of its channels "
        "(`dreamengine direction` makes one from example pictures).",
        highlight=False,
    )
