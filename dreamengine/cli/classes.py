"""`dreamengine classes`: the classes a model can dream with ``--class``, as a rich table."""

from __future__ import annotations

import warnings
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.model_options import model_config, model_label, model_options
from dreamengine.cli.output import console, loading

# Loading a model imports torch: it is imported in the function that uses it, not here, because `dreamengine --help`
# imports every command's module and should start at once (see TorchCommand).


@cli.command("classes", cls=TorchCommand)
@click.argument("pattern", required=False)
@model_options()
def classes_command(pattern: str | None, **model: Any) -> None:
    """List the classes a model can dream with --class: index, name, and the other names it is known by.

    PATTERN picks classes: the start of a word in their names (owl), shell
    wildcards matching one of their names ('*owl'), or an index.

    \b
    Examples:
      dreamengine classes owl
      dreamengine classes 'grey*'
      dreamengine classes --checkpoint checkpoints/epoch-010.pt
    """
    from dreamengine.engine.classes import find_classes, name_for
    from dreamengine.run.prepare import load_model

    config = model_config(model)
    with warnings.catch_warnings(), loading(model_label(config)):
        warnings.filterwarnings("ignore", message=".*random weights.*")  # the class names do not depend on them
        loaded = load_model(get_host(), config)
    names = loaded.class_names
    if not names:
        raise click.ClickException(
            f"{loaded.name} has no class names: give --class as an index from 0 to {loaded.num_classes - 1}."
        )
    indices = find_classes(names, pattern)
    if not indices:
        raise click.ClickException(
            f"no class of {loaded.name} matches {pattern!r} "
            f"(it has {len(names)}; run without a pattern to list them all)."
        )
    title = f"Classes of {loaded.name}" + (f": {len(indices)} of {len(names)}" if pattern is not None else "")
    table = Table(title=title, title_justify="left", min_width=len(title))
    for column, justify in (("index", "right"), ("--class", "left"), ("known as", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for index in indices:
        table.add_row(str(index), escape(name_for(names, index)), escape(names[index].strip()))
    console.print(table, highlight=False)
    console.print(
        "Dream one with --class NAME (or its index); repeat --class to dream several in one batch.", highlight=False
    )
