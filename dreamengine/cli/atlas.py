"""`dreamengine atlas`: dream every unit of a model's layers, in batches, into a browsable folder."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.model_options import model_label
from dreamengine.cli.once import once
from dreamengine.cli.output import console, counted, err_console, loading, stop_interrupted, warn
from dreamengine.cli.run import resolve_config, setting_options

# The atlas's modules import torch: they are imported in the functions that use them, not here, because
# `dreamengine --help` imports every command's module and should start at once (see TorchCommand).
if TYPE_CHECKING:
    from dreamengine.atlas.plan import AtlasPlan, Batch
    from dreamengine.engine.model import DreamModel
    from dreamengine.plugins import PluginHost

#: :data:`dreamengine.atlas.plan.DEFAULT_BATCH`, written out so that `atlas --help` needs no torch (a test keeps
#: them equal).
DEFAULT_BATCH = 16
#: The run settings each unit's dream sets itself (its objective, its class), or that name files the atlas names.
NOT_ATLAS_SETTINGS = ("classes", "objective", "output", "side_by_side", "save_every", "animation")


@cli.command("atlas", cls=TorchCommand)
@setting_options(leave_out=NOT_ATLAS_SETTINGS)
@once("--output", "-o", default="atlas", show_default=True, help="The atlas's folder.")
@click.option(
    "--layer",
    "layers",
    multiple=True,
    help="Layers to dream, shell wildcards as `dreamengine layers` takes them; 'logits' for the classes "
    "(repeatable). [default: every stage output and the logits]",
)
@once("--units", default="all", show_default=True, help="Units of each layer: all, N (the first N) or A-B.")
@once(
    "--variants",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Also dream K diverse dreams of each unit (the diversity objective, from noise).",
)
@once("--batch", type=click.IntRange(1), help=f"Units of one layer dreamt at once. [default: {DEFAULT_BATCH}]")
@once("--images", type=click.Path(file_okay=False), help="A folder of images for each unit's dataset examples.")
@once("--examples", type=click.IntRange(1), default=8, show_default=True, help="Dataset examples per unit.")
@click.option("--negatives", is_flag=True, help="Also keep each unit's most negative dataset examples.")
@once(
    "--executor",
    type=click.Choice(("local", "ray")),
    default="local",
    show_default=True,
    help="Where the batches run: this process, or a Ray cluster (pip install 'dreamengine[ray]').",
)
@once("--address", help="Ray cluster to join, e.g. 10.0.0.5:6379. [default: start a Ray here, on 127.0.0.1]")
@once("--workers", type=click.IntRange(1), help="Worker processes of a Ray started here. [default: one per CPU]")
@click.option("--restart", is_flag=True, help="Delete the units of an atlas made with other settings and start over.")
@click.option("--dry-run", is_flag=True, help="Print the layers, units, batches and a measured time; dream nothing.")
def atlas_command(
    output: str,
    layers: tuple[str, ...],
    units: str,
    variants: int,
    batch: int | None,
    images: str | None,
    examples: int,
    negatives: bool,
    executor: str,
    address: str | None,
    workers: int | None,
    restart: bool,
    dry_run: bool,
    config_file: str | None,
    preset: str | None,
    assignments: tuple[str, ...],
    **cli_settings: Any,
) -> None:
    """Build the atlas of a model in OUTPUT: every unit's dream, its dataset examples, its classes, a website.

    Each unit (channel) of the model's layers, and each class of its logits,
    gets a dream that maximises its mean, with the run's quality settings (any
    run option changes them) at 128 pixels (or the model's smaller input size;
    --size sets it); units of one layer are dreamt several at a time, the
    forward stopped at the layer. With --images, one pass over a folder of
    images finds each unit's most activating examples first. For a classifier,
    classes.json links the units its classifier pools to the classes. Last, the
    static site: open OUTPUT/index.html. OUTPUT keeps atlas.json,
    units/LAYER/UNIT.png (each with its settings, so `dreamengine run --from`
    makes it again), 96-pixel thumbnails, a record per unit with its dream's
    activation, and examples.json. Units and examples already there with the
    same settings are kept, so an interrupted atlas resumes where it stopped.

    \b
    Examples:
      dreamengine atlas --dry-run
      dreamengine atlas --images photos --units 8
      dreamengine atlas --layer 'blocks.*' --units 16 --size 224
      dreamengine atlas --checkpoint checkpoints/epoch-010.pt --layer logits
      dreamengine atlas --variants 2 --executor ray --address 10.0.0.5:6379
    """
    from dreamengine.atlas.folder import checked_images
    from dreamengine.atlas.plan import plan_atlas
    from dreamengine.atlas.runner import open_folder, pending_units
    from dreamengine.run.prepare import load_model
    from dreamengine.run.threads import apply_threads

    host = get_host()
    config = resolve_config(host, config_file, None, preset, assignments, cli_settings)
    note = apply_threads(config.threads).note()
    if note:
        err_console.print(note, highlight=False)
    with warnings.catch_warnings(record=True) as caught, loading(model_label(config)):
        warnings.simplefilter("always")
        model = load_model(host, config)
        plan = plan_atlas(model, config, output, layers=layers, units=units, batch=batch, variants=variants)
    for warning in caught:  # a model of random weights, said once, not once per batch
        warn(str(warning.message))
    files = checked_images(plan.output, images)  # every check before the first write
    plan = open_folder(plan, restart=restart, write=not dry_run)
    todo = pending_units(plan)
    batches = plan.batches(todo)
    if dry_run:
        _dry_run(host, plan, todo, batches, model, images, files)
        return
    read = _collect_examples(plan, model, images, examples, negatives) if images is not None else 0
    made = _dream_units(host, plan, batches, model, executor, address, workers)
    index = _write_site(host, plan, model)
    done = plan.unit_count()
    console.print(
        f"{counted(done, 'unit')} in {plan.output} ({made} dreamt now, {done - made} done before), dreamt at "
        f"{plan.size[1]}x{plan.size[0]} pixels; "
        + (f"dataset examples from {counted(read, 'image')}" if images is not None else "no dataset examples")
        + f"; open {index}",
        highlight=False,
        markup=False,
    )


def _dream_units(
    host: PluginHost,
    plan: AtlasPlan,
    batches: list[Batch],
    model: DreamModel,
    executor: str,
    address: str | None,
    workers: int | None,
) -> int:
    """Dream ``batches`` with a progress bar (units done and time left); Ctrl-C keeps what is done and says so."""
    from dreamengine.atlas.runner import dream_steps, make_executor, run_atlas

    total = sum(len(batch.units) for batch in batches)
    with _progress() as progress:
        overall = progress.add_task(f"units ({executor})", total=total)
        steps = dream_steps(host, plan, model) if batches else 1
        dreaming = progress.add_task("batch", total=steps, visible=executor == "local")

        def on_start(batch: Batch) -> None:
            shown = f"{batch.layer.name} {batch.units[0]}-{batch.units[-1]}"
            progress.update(dreaming, completed=0, description=escape(shown))

        def on_step(step: int, scores: Any) -> None:
            progress.update(dreaming, completed=step)

        runner = make_executor(
            executor,
            model=model,
            address=address,
            workers=workers,
            on_start=on_start,
            on_step=on_step,
        )
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*random weights.*")  # said before the dreams
                made = run_atlas(
                    host, plan, batches, runner, on_written=lambda batch: progress.advance(overall, len(batch.units))
                )
        except KeyboardInterrupt:
            kept = int(next(task.completed for task in progress.tasks if task.id == overall))
            stop_interrupted(
                f"Interrupted: {kept} of {total} units dreamt now are kept in {plan.output}; run the same "
                "command again to dream the rest (nothing done is dreamt again).",
                on=progress.console,
            )
        progress.update(dreaming, visible=False)
    return made


def _progress() -> Progress:
    """A progress display on standard error: what, a bar, done of all, time spent and left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )


def _collect_examples(plan: AtlasPlan, model: DreamModel, images: str, k: int, negatives: bool) -> int:
    """Each unit's ``k`` best dataset examples (and most negative, with ``negatives``) from one pass over the
    folder ``images``, before any dream (a wrong folder stops the command at once); returns how many images were
    read. examples.json made from the same weights, layers, settings and files is kept, not made again."""
    from dreamengine.atlas.examples import collect_examples

    layers = [layer.to_json() for layer in plan.layers]
    with _progress() as progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = progress.add_task("dataset examples", total=None)
        try:
            found = collect_examples(
                model,
                layers,
                images,
                plan.output,
                k=k,
                negatives=negatives,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
                size=plan.size,
            )
        except KeyboardInterrupt:
            stop_interrupted(
                "Interrupted while reading the dataset examples: none is kept yet; run the same command again.",
                on=progress.console,
            )
    for warning in caught:  # files that are not images, named once
        warn(str(warning.message))
    return int(found["count"])


def _write_site(host: PluginHost, plan: AtlasPlan, model: DreamModel) -> Path:
    """The links of a classifier's units to its classes (classes.json, from its weights), then the atlas's static
    site from every file the folder holds; returns the site's index.html."""
    from dreamengine.atlas.classes import class_links
    from dreamengine.atlas.site import write_site

    with loading("the atlas's pages"):
        class_links(model, plan.output)
        return write_site(plan.output, host)


def _dry_run(
    host: PluginHost,
    plan: AtlasPlan,
    todo: dict[str, list[int]],
    batches: list[Batch],
    model: DreamModel,
    images: str | None,
    files: list[Path],
) -> None:
    """Print the layers, their units and batches, the ``files`` the dataset examples will read, and an estimate
    from measured steps; write nothing."""
    from dreamengine.atlas.runner import estimate

    table = Table(title=f"Atlas of {model.name} at {plan.size[1]}x{plan.size[0]}", title_justify="left")
    table.add_column("layer", overflow="fold")
    for column in ("output", "units", "to dream", "batches"):
        table.add_column(column, justify="right")
    for layer in plan.layers:
        count = sum(1 for batch in batches if batch.layer.name == layer.name)
        shape = " x ".join(map(str, layer.shape))
        table.add_row(escape(layer.name), shape, str(len(layer.units)), str(len(todo.get(layer.name, ()))), str(count))
    console.print(table)
    if images is not None:
        console.print(f"dataset examples: {counted(len(files), 'file')} in {images}, read in one pass", markup=False)
    started = time.perf_counter()
    with warnings.catch_warnings(), loading("a few steps to time them"):
        warnings.simplefilter("ignore")
        guess = estimate(host, plan, batches, model)
    measured = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in guess.step_seconds.items())
    dreams = sum(len(batch.units) for batch in batches) * (1 + plan.variants)
    console.print(
        f"{counted(dreams, 'dream')} in {len(batches)} batch{'es' * (len(batches) != 1)} of up to {plan.batch} units, "
        f"{guess.steps} steps each: about {_duration(guess.seconds)} here (a step of a full batch measured: "
        f"{measured or 'none'}; measuring took {time.perf_counter() - started:.0f} s). Nothing was written.",
        highlight=False,
        markup=False,
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
