"""`dreamengine direction`: a direction in a layer's channel space from example pictures, for ``direction:``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.model_options import model_config, model_label, model_options
from dreamengine.cli.once import once
from dreamengine.cli.output import console, counted, err_console, loading, warn
from dreamengine.errors import DreamError

# Measuring features imports torch: it is imported in the command, not here, because `dreamengine --help`
# imports every command's module and should start at once (see TorchCommand).
if TYPE_CHECKING:
    from dreamengine.analysis.directions import Features

_SHOWN = 8  # channels listed: those the direction weighs most, either way


@cli.command("direction", cls=TorchCommand)
@click.argument("layer")
@click.option(
    "--toward",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Pictures the direction points toward: files or folders (repeatable).",
)
@click.option(
    "--away",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Pictures it points away from (repeatable). [default: none: the mean feature of --toward]",
)
@model_options()
@once(
    "--output",
    "-o",
    default="direction.pt",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The file to write: .pt or .pth (torch.save), .npy, or any other name as text (a direction "
    "there is replaced, any other file kept).",
)
def direction_command(layer: str, toward: tuple[Path, ...], away: tuple[Path, ...], output: Path, **model: Any) -> None:
    """Write the direction in LAYER's channel space from the pictures --away to those --toward, to dream it.

    The direction is the mean feature of the --toward pictures (over pictures
    and positions, each shown at the model's input size) minus that of the
    --away pictures: the channels that tell them apart, weighted. Dream it with
    --objective direction:LAYER:path=FILE.

    \b
    Examples:
      dreamengine direction blocks.5 --toward photos/cats --away photos/dogs -o cat-vs-dog.pt
      dreamengine run --objective direction:blocks.5:path=cat-vs-dog.pt
    """
    from dreamengine.analysis.directions import example_files, mean_features, save_direction
    from dreamengine.run.prepare import load_model

    config = model_config(model)
    with warnings.catch_warnings(record=True) as caught, loading(model_label(config)):
        warnings.simplefilter("always")
        loaded = load_model(get_host(), config)
    for warning in caught:  # random weights: a direction of a network that has learned nothing
        warn(str(warning.message))
    loaded.layer(layer)
    groups = {"toward": example_files(toward), "away": example_files(away)}
    features = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console) as bar:
        for name, files in groups.items():
            if files:
                task = bar.add_task(f"{name} pictures", total=len(files))
                features[name] = mean_features(loaded, layer, files, lambda done, _: bar.update(task, completed=done))  # noqa: B023
    for found in features.values():
        if found.skipped:
            warn(
                f"skipped {len(found.skipped)} files that are not readable pictures: "
                + ", ".join(map(str, found.skipped[:3]))
                + (", ..." if len(found.skipped) > 3 else "")
            )
    vector = features["toward"].mean - (features["away"].mean if "away" in features else 0)
    if not vector.any():
        raise DreamError("the --toward and --away pictures have the same mean features: there is no direction.")
    save_direction(vector, output)
    _report(layer, features, vector, output)


def _report(layer: str, features: dict[str, Features], vector, output: Path) -> None:
    counts = " and ".join(f"{counted(found.count, 'picture')} {name}" for name, found in features.items())
    console.print(
        f"wrote {output}: {len(vector)} channel weights of {layer} ({counts}), length {float(vector.norm()):.4g}",
        highlight=False,
    )
    table = Table(title=f"The channels it weighs most (of {len(vector)})", title_justify="left")
    for column in ("channel", "weight", *(f"mean {name}" for name in features)):
        table.add_column(column, justify="right")
    for channel in vector.abs().argsort(descending=True)[:_SHOWN].tolist():
        table.add_row(
            str(channel),
            f"{float(vector[channel]):+.4g}",
            *(f"{float(found.mean[channel]):.4g}" for found in features.values()),
        )
    console.print(table)
    console.print(f"Dream it with --objective direction:{layer}:path={output}", highlight=False)
