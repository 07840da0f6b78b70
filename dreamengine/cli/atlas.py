"""`dreamengine atlas`: dream every unit of a model's layers, in batches, into a browsable folder."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from dreamengine.atlas.defaults import DEFAULT_BATCH, DEFAULT_EXAMPLES, DEFAULT_SIDE
from dreamengine.cli.executing import dreaming, executor_options, progress_bars
from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.model_options import model_label
from dreamengine.cli.once import once
from dreamengine.cli.output import console, counted, err_console, loading, stop_interrupted, warn
from dreamengine.cli.run import setting_options

# The atlas's modules import torch: they are imported in the functions that use them, not here, because
# `dreamengine --help` imports every command's module and should start at once (see TorchCommand).
if TYPE_CHECKING:
    from dreamengine.atlas.build import Dreams
    from dreamengine.atlas.plan import AtlasPlan, Batch
    from dreamengine.engine.model import DreamModel
    from dreamengine.plugins import PluginHost

#: The run settings each unit's dream sets itself (its objective, its class), or that name files the atlas names.
NOT_ATLAS_SETTINGS = ("classes", "objective", "output", "side_by_side", "attribution", "save_every", "animation")


@cli.command("atlas", cls=TorchCommand)
@setting_options(
    leave_out=NOT_ATLAS_SETTINGS,
    size_default=f"{DEFAULT_SIDE} (its longer side), or the model's input size where that is smaller",
)
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
@once(
    "--examples", type=click.IntRange(1), default=DEFAULT_EXAMPLES, show_default=True, help="Dataset examples per unit."
)
@click.option("--negatives", is_flag=True, help="Also keep each unit's most negative dataset examples.")
@executor_options("the batches")
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
    OUTPUT must be missing, empty, or an atlas this command made: it writes
    only files it lists in OUTPUT/.dreamengine-written, and --restart deletes
    only those.

    \b
    Examples:
      dreamengine atlas --dry-run
      dreamengine atlas --images photos --units 8
      dreamengine atlas --layer 'blocks.*' --units 16 --size 224
      dreamengine atlas --checkpoint checkpoints/epoch-010.pt --layer logits
      dreamengine atlas --variants 2 --executor ray --address 10.0.0.5:6379
    """
    from dreamengine.atlas.build import build_atlas
    from dreamengine.run.executors import make_executor
    from dreamengine.run.prepare import load_model
    from dreamengine.run.settings import resolve_settings
    from dreamengine.run.threads import apply_threads

    host = get_host()
    config = resolve_settings(
        host, preset=preset, config_file=config_file, options=cli_settings, assignments=assignments
    )
    runner = make_executor(host.registry, executor, address=address, workers=workers)
    note = apply_threads(config.threads).note()
    if note:
        err_console.print(note, highlight=False)
    with warnings.catch_warnings(record=True) as caught, loading(model_label(config)):
        warnings.simplefilter("always")
        model = load_model(host, config)
    said = [warning.message for warning in caught]
    steps = _CommandSteps(host, model, model_label(config), executor, images, dry_run, said)
    built = build_atlas(
        host,
        model,
        config,
        output,
        layers=layers,
        units=units,
        batch=batch,
        variants=variants,
        images=images,
        examples=examples,
        negatives=negatives,
        restart=restart,
        executor=runner,
        dry_run=dry_run,
        steps=steps,
    )
    if dry_run:
        return
    plan, made, done = built.plan, built.made, built.plan.unit_count()
    console.print(
        f"{counted(done, 'unit')} in {plan.output} ({made} dreamt now, {done - made} done before), dreamt at "
        f"{plan.size[1]}x{plan.size[0]} pixels; "
        + (f"dataset examples from {counted(built.read, 'image')}" if images is not None else "no dataset examples")
        + f"; open {built.index}",
        highlight=False,
        markup=False,
    )


class _CommandSteps:
    """What the command shows of each step of :func:`~dreamengine.atlas.build.build_atlas`: a spinner while it
    plans, the dry run's table, progress bars, and on Ctrl-C what is kept and how to resume."""

    def __init__(
        self,
        host: PluginHost,
        model: DreamModel,
        label: str,
        executor: str,
        images: str | None,
        dry_run: bool,
        said: list[Any],
    ) -> None:
        self.host, self.model, self.label, self.executor = host, model, label, executor
        self.images, self.dry_run = images, dry_run
        self.said = said  # warnings while the model loaded, said with the plan's

    @contextmanager
    def planning(self) -> Iterator[None]:
        with warnings.catch_warnings(record=True) as caught, loading(self.label):
            warnings.simplefilter("always")
            yield
        for message in [*self.said, *(warning.message for warning in caught)]:  # once, not once per batch
            warn(str(message))

    def planned(self, plan: AtlasPlan, todo: dict[str, list[int]], batches: list[Batch], files: list[Path]) -> None:
        if self.dry_run:
            _dry_run(self.host, plan, todo, batches, self.model, self.images, files)

    @contextmanager
    def examples(self) -> Iterator[Callable[[int, int | None], None]]:
        """Each unit's best dataset examples from one pass over the folder, before any dream (a wrong folder stops
        the command at once); examples.json made from the same weights, layers, settings and files is kept."""
        with progress_bars() as progress, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            task = progress.add_task("dataset examples", total=None)
            try:
                yield lambda done, total: progress.update(task, completed=done, total=total)
            except KeyboardInterrupt:
                stop_interrupted(
                    "Interrupted while reading the dataset examples: none is kept yet; run the same command again.",
                    on=progress.console,
                )
        for warning in caught:  # files that are not images, named once
            warn(str(warning.message))

    @contextmanager
    def dreams(self, plan: AtlasPlan, batches: list[Batch]) -> Iterator[Dreams]:
        """A progress bar of the units done and the time left; Ctrl-C keeps what is done and says so."""
        from dreamengine.atlas.build import Dreams
        from dreamengine.atlas.runner import dream_steps

        total = sum(len(batch.units) for batch in batches)

        def interrupted(kept: int) -> str:
            return (
                f"Interrupted: {kept} of {total} units dreamt now are kept in {plan.output}; run the same "
                "command again to dream the rest (nothing done is dreamt again)."
            )

        steps = dream_steps(self.host, plan, self.model) if batches else 1
        with dreaming("units", total, "batch", steps, self.executor, interrupted) as bars:
            yield Dreams(
                on_start=lambda batch: bars.start(f"{batch.layer.name} {batch.units[0]}-{batch.units[-1]}"),
                on_step=bars.step,
                on_written=lambda batch: bars.progress.advance(bars.overall, len(batch.units)),
            )

    def site(self) -> Any:
        """The links of a classifier's units to its classes, then the static site."""
        return loading("the atlas's pages")


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
