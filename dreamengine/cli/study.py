"""`dreamengine study`: dream a grid of checkpoints x steps x classes, write contact sheets and a gallery page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from dreamengine.cli.executing import dreaming, executor_options
from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.model_options import model_options, model_settings
from dreamengine.cli.once import once
from dreamengine.cli.output import console, counted, err_console, warn
from dreamengine.errors import DreamError
from dreamengine.plugins import PluginHost
from dreamengine.run.config import MAX_SEED, RunConfig
from dreamengine.study.defaults import REPORT_STEPS

# The study's modules import torch: they are imported in the functions that use them, not here, because
# `dreamengine --help` imports every command's module and should start at once (see TorchCommand).
if TYPE_CHECKING:
    from dreamengine.study.plan import StudyPlan


def _numbers(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise DreamError(f"{what} must be comma-separated whole numbers, as in 200,500,1000; got {text!r}.") from None


@cli.command("study", cls=TorchCommand)
@click.argument("checkpoints", nargs=-1)
@model_options()
@once(
    "--steps",
    default=",".join(map(str, REPORT_STEPS)),
    show_default=True,
    help="Dream step counts, comma-separated (the columns).",
)
@once("--epochs", help="Only these epochs of each run, comma-separated (the rows). [default: all]")
@click.option("--class", "-c", "classes", multiple=True, help="Classes to dream (repeatable). [default: all]")
@click.option(
    "--objective", "objectives", multiple=True, help="Objective(s), e.g. logit, cross-entropy. [default: logit]"
)
@click.option("--blur", "blurs", multiple=True, help="Blur setting(s): 0.5, a range 0.1-1.0, or none. [default: 0.5]")
@click.option("--seed", "seeds", type=click.IntRange(0, MAX_SEED), multiple=True, help="Seed(s). [default: 0]")
@once("--preset", default="report", show_default=True, help="Base settings of every dream.")
@once("--size", type=int, help="Dream size in pixels. [default: the preset's]")
@once("--lr", type=float, help="Dream learning rate. [default: the preset's]")
@once("--init", help="Initializer spec. [default: the preset's]")
@once("--device", help="auto, cpu, cuda, cuda:N or mps. [default: auto]")
@once(
    "--threads",
    type=click.IntRange(1),
    help="CPU threads. [default: OMP_NUM_THREADS, else one per CPU that other programs leave free]",
)
@once("--output", "-o", default="study", show_default=True, help="Folder for cells, sheets and index.html.")
@once("--title", default="dreamengine study", show_default=True, help="Title of the page.")
@executor_options("the dreams")
def study_command(
    checkpoints,
    steps,
    epochs,
    classes,
    objectives,
    blurs,
    seeds,
    preset,
    output,
    title,
    executor,
    address,
    workers,
    **overrides,
) -> None:
    """Dream every combination of CHECKPOINTS (files, or folders of epoch-NNN.pt) and step counts.

    With --model ARCH, the rows may also be weights files of that architecture
    (.safetensors, or .pt/.pth/.bin state dicts; a folder: its weights files),
    each a row at the epoch the last number in its name gives, labelled by its
    name; --class-names, --mean, --std and --input-size apply to every row.
    --checkpoint and --weights add a row before the others.

    Writes a labelled contact sheet per grid and an offline page, OUTPUT/index.html.
    Cells already made with the same settings are kept, so an interrupted
    study resumes where it stopped. With --executor ray, each dream run is a
    Ray task and this process writes the results as they come back.

    \b
    Examples:
      dreamengine study checkpoints --steps 200,500,1000,2000
      dreamengine study full fc-only --epochs 0,5,10 --objective logit --objective cross-entropy
      dreamengine study full --blur 0.5 --blur 0.1-1.0 --seed 0 --seed 1 --size 64
      dreamengine study full --executor ray --address 10.0.0.5:6379
      dreamengine study --model resnet50 --class-names birds.txt epoch1.safetensors epoch2.safetensors
    """
    from dreamengine.run.executors import make_executor
    from dreamengine.run.settings import resolve_settings
    from dreamengine.run.threads import apply_threads
    from dreamengine.study.gallery import write_gallery
    from dreamengine.study.plan import find_checkpoints, plan_study, study_folder
    from dreamengine.study.runner import run_study
    from dreamengine.study.sheets import write_sheets

    host = get_host()
    model = model_settings(overrides)
    rows = [*(model[key] for key in ("checkpoint", "weights") if key in model), *checkpoints]
    if not rows:
        raise DreamError(
            "a study needs its rows: dreamengine checkpoints (files, or folders of epoch-NNN.pt), or weights "
            "files of --model ARCH, as in dreamengine study --model resnet50 epoch1.safetensors epoch2.safetensors."
        )
    overrides = {k: v for k, v in overrides.items() if v is not None and k not in ("checkpoint", "weights")}
    base = resolve_settings(host, preset=preset, options=overrides)
    study_folder(output).check()  # a folder of the user's is refused before anything is written
    note = apply_threads(base.threads).note()
    if note:
        err_console.print(note, highlight=False)
    architecture = base.model if "model" in model or "weights" in model else None
    found = find_checkpoints(rows, _numbers(epochs, "--epochs"), model=architecture)
    plan = plan_study(
        base,
        found,
        _numbers(steps, "--steps"),
        classes or None,
        objectives or ["logit"],
        blurs or ["0.5"],
        seeds or [0],
        output,
        host,
    )
    _say_replaced(plan)
    runner = make_executor(host.registry, executor, address=address, workers=workers)

    def interrupted(kept: int) -> str:
        return (
            f"Interrupted: {kept} of {len(plan.tasks)} dream runs are done and kept in {output}; "
            "run the same command again to make the rest (nothing done is made again)."
        )

    with dreaming("study", len(plan.tasks), "dream", max(plan.steps), executor, interrupted) as bars:

        def on_start(task):
            bars.start(f"{task.target}, {task.checkpoint.run} {task.checkpoint.label}, {task.objective}")

        def on_written(task, number, total):
            bars.progress.update(bars.overall, completed=len(plan.tasks) - total + number)

        ran = run_study(host, plan, runner, on_written=on_written, on_start=on_start, on_step=bars.step)
        bars.progress.update(bars.overall, completed=len(plan.tasks))
    sheets = write_sheets(plan)
    page = write_gallery(plan, title)
    console.print(
        f"{counted(len(plan.cells), 'cell')} ({_made(ran, len(plan.tasks))}); "
        f"{counted(len(sheets), 'contact sheet')}; {_size(plan, base, preset, overrides.get('size'))}; open {page}",
        highlight=False,
        markup=False,
    )
    _say_shared(host, plan)


def _size(plan: StudyPlan, base: RunConfig, preset: str | None, given: int | None) -> str:
    """The cells' size and where it came from: ``run --checkpoint`` dreams at the checkpoint's own size, a study
    at its preset's (the report's 128) unless --size says otherwise."""
    from PIL import Image

    with Image.open(plan.cells[0].path) as picture:
        width, height = picture.size
    if given is not None:
        source = "set by --size"
    elif base.size is not None:
        source = f"preset {preset!r}'s size; --size changes it"
    else:
        source = "the model's own size"
    return f"dreamed at {width}x{height} pixels ({source})"


def _say_replaced(plan: StudyPlan) -> None:
    """Say when cells in the output folder were made with other settings (or a changed checkpoint or weights file):
    this study makes them again, in their place."""
    other = [cell for cell in plan.cells if cell.path.is_file() and not cell.is_done()]
    if other:
        warn(
            f"{counted(len(other), 'cell')} in {plan.output} {'was' if len(other) == 1 else 'were'} made with other "
            "settings, checkpoints or weights (e.g. "
            f"{other[0].path.relative_to(plan.output)}); this study makes them again in their place."
        )


def _say_shared(host: PluginHost, plan: StudyPlan) -> None:
    """Name the objectives that read no class, whose dreams were made once and written for every class."""
    from dreamengine.study.runner import same_dreams

    shared = [members for members in same_dreams(host, plan.tasks).values() if len(members) > 1]
    for objective in dict.fromkeys(members[0].objective for members in shared):
        groups = [members for members in shared if members[0].objective == objective]
        classes = len({task.target for members in groups for task in members})
        runs = sum(len(members) for members in groups)
        console.print(
            f"{objective} reads no class: each of its dreams is the same for the {classes} classes, "
            f"so the study dreams it once and writes it for each ({counted(len(groups), 'dream')} "
            f"for its {runs} runs).",
            highlight=False,
            markup=False,
        )


def _made(ran: int, total: int) -> str:
    """How many of the study's dream runs this command made, and how many were done before."""
    runs = f"all {total} dream runs" if total > 1 else "1 dream run"
    if ran == total:
        return f"{runs} made now"
    if ran == 0:
        return f"{runs} {'were' if total > 1 else 'was'} already done"
    return f"{ran} of {total} dream runs made now, {total - ran} already done"
