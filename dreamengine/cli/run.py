"""`dreamengine run`: dream one or more classes and write the images."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.model_options import model_label, model_option_list
from dreamengine.cli.once import once
from dreamengine.cli.output import console, err_console, loading, stop_interrupted, warn
from dreamengine.engine.defaults import OPTIMIZER_NAMES
from dreamengine.errors import DreamError, DreamInterrupted
from dreamengine.run.config import MAX_SEED, RunConfig

# The modules that dream import torch: they are imported in the functions that use them, not here, because
# `dreamengine --help` imports every command's module and should start at once (see TorchCommand).
if TYPE_CHECKING:
    from dreamengine.components import Objective

#: The settings a run has unless told otherwise, as the options' help shows them.
DEFAULTS = RunConfig()


def _size_option(default: str) -> Callable[[Any], Any]:
    """``--size``, whose help says its ``default`` (a run's and an atlas's differ)."""
    return once(
        "--size",
        help="Dream size in pixels: N (square; from a photo, the longer side of its shape) or "
        f"WIDTHxHEIGHT, e.g. 2048x1536. [default: {default}]",
    )


#: Every option of a run's settings, by the name its value is given as, in the order `run --help` lists them:
#: other commands that dream take them too (:func:`setting_options`).
_SETTING_OPTIONS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    *model_option_list(),
    (
        "classes",
        click.option(
            "--class",
            "-c",
            "classes",
            multiple=True,
            help="ImageNet (or the model's) class name or index; repeat to dream several in one batch. "
            f"[default: {', '.join(DEFAULTS.classes)}]",
        ),
    ),
    (
        "objective",
        once(
            "--objective",
            help="Objective spec or expression, e.g. logit, layer:blocks.4:7, "
            "\"logit:flamingo + 0.5*layer:blocks.5 - 0.01*tv\"; several separated by ';' "
            f"are dreamed side by side, one each. [default: {DEFAULTS.objective}]",
        ),
    ),
    (
        "reg",
        click.option(
            "--reg",
            multiple=True,
            help="Regularizer specs, comma-separated or repeated; 'none' for none; +SPEC adds one to the "
            "default's (or the preset's). "
            f"[default: {', '.join(DEFAULTS.reg)}]",
        ),
    ),
    (
        "init",
        once(
            "--init",
            help="Initializer spec, e.g. gray, gradient:start=red:end=blue, photo:path=cat.jpg:blur=4. "
            f"[default: {DEFAULTS.init}]",
        ),
    ),
    (
        "param",
        once(
            "--param",
            help="Image parametrization: fft (Lucid's decorrelated Fourier basis; :decay=D, steeper for larger "
            "shapes and more colour) or pixel. "
            f"[default: {DEFAULTS.param}]",
        ),
    ),
    (
        "strategy",
        click.option(
            "--strategy",
            multiple=True,
            help="How the steps run, e.g. octaves:count=4:scale=1.4 or tile:size=224; several nest, the first "
            "outermost; 'none' for one plain loop; +SPEC adds one inside the default's. "
            f"[default: {', '.join(DEFAULTS.strategy)}]",
        ),
    ),
    (
        "assignments",
        click.option(
            "--set",
            "-s",
            "assignments",
            multiple=True,
            metavar="COMPONENT.OPTION=VALUE",
            help="Set one option of a component, e.g. -s blur.sigma=0.8 (repeatable).",
        ),
    ),
    (
        "steps",
        once("--steps", type=int, help=f"Gradient steps (shared out among octaves). [default: {DEFAULTS.steps}]"),
    ),
    ("lr", once("--lr", type=float, help=f"Learning rate. [default: {DEFAULTS.lr}]")),
    ("optimizer", once("--optimizer", type=click.Choice(OPTIMIZER_NAMES), help=f"[default: {DEFAULTS.optimizer}]")),
    ("size", _size_option("the model's input size")),
    (
        "seed",
        once(
            "--seed",
            type=click.IntRange(0, MAX_SEED),
            help=f"Seed of every random draw; same seed, same bytes. [default: {DEFAULTS.seed}]",
        ),
    ),
    ("device", once("--device", help=f"auto, cpu, cuda, cuda:N or mps. [default: {DEFAULTS.device}]")),
    (
        "threads",
        once(
            "--threads",
            type=click.IntRange(1),
            help="CPU threads. [default: OMP_NUM_THREADS, else one per CPU that other programs leave free]",
        ),
    ),
    (
        "fold_norms",
        click.option(
            "--fold-norms/--no-fold-norms",
            default=None,
            help="Fold each batch norm into the convolution before it: the same network, faster. [default: on]",
        ),
    ),
    (
        "channels_last",
        click.option(
            "--channels-last/--no-channels-last",
            default=None,
            help="Run the model in channels-last memory format. [default: on for the CPU, off on GPUs]",
        ),
    ),
    (
        "compile",
        click.option(
            "--compile/--no-compile",
            default=None,
            help="torch.compile the model (slow first step; see docs/performance.md). [default: off]",
        ),
    ),
    (
        "precision",
        once(
            "--precision",
            type=click.Choice(["fp32", "bf16"]),
            help=f"bf16: run the model under bfloat16 autocast. [default: {DEFAULTS.precision}]",
        ),
    ),
    ("output", once("--output", "-o", help=f"Output folder, or a .png file. [default: {DEFAULTS.output}]")),
    (
        "side_by_side",
        click.option(
            "--side-by-side/--no-side-by-side",
            default=None,
            help="Also write the report's raw | rescaled picture (*-side.png).",
        ),
    ),
    (
        "attribution",
        click.option(
            "--attribution/--no-attribution",
            default=None,
            help="Also write MACO's attribution map: the dream faded where the objective did not look "
            "(*-attribution.png, its alpha channel the map).",
        ),
    ),
    (
        "save_every",
        once(
            "--save-every",
            type=int,
            help="Also write an animation with a frame every K steps (a zoom strategy writes its frames without it).",
        ),
    ),
    (
        "animation",
        once(
            "--animation", type=click.Choice(["gif", "webp"]), help=f"Animation format. [default: {DEFAULTS.animation}]"
        ),
    ),
    ("preset", once("--preset", help="Apply a preset first (see `dreamengine list presets`).")),
    ("config_file", once("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file of settings.")),
)


def setting_options(*, leave_out: Collection[str] = (), size_default: str | None = None) -> Callable[[Any], Any]:
    """Add a run's setting options (``--model``, ``--steps``, ``--reg``, ..., ``--preset``, ``--config``) to a
    command, less those named in ``leave_out``, ``--size``'s help saying ``size_default`` where the command's
    default size is not a run's; :func:`~dreamengine.run.settings.resolve_settings` makes their values
    a :class:`RunConfig`."""

    def add(command: Any) -> Any:
        for name, option in reversed(_SETTING_OPTIONS):
            if name == "size" and size_default is not None:
                option = _size_option(size_default)
            if name not in leave_out:
                command = option(command)
        return command

    return add


@cli.command("run", cls=TorchCommand)
@setting_options()
@once(
    "--from",
    "from_png",
    type=click.Path(dir_okay=False),
    help="Re-run the settings stored in a dream PNG (other options override them).",
)
def run_command(
    config_file: str | None, from_png: str | None, preset: str | None, assignments: tuple[str, ...], **cli_settings: Any
) -> None:
    """Dream: maximise an objective by gradient ascent on the image.

    \b
    Examples:
      dreamengine run
      dreamengine run --class "great grey owl" --class 130 --steps 300
      dreamengine run --objective logit --reg blur,flip
      dreamengine run --reg clamp,blur:sigma=0.1:sigma_max=1.0,flip -s flip.p=0.3
      dreamengine run --init photo:path=me.jpg:blur=4 --objective layer:layer=blocks.3
    """
    from dreamengine.run.batch import run_items
    from dreamengine.run.execute import execute, total_steps
    from dreamengine.run.prepare import dream_model, prepare
    from dreamengine.run.settings import resolve_settings
    from dreamengine.run.threads import apply_threads

    host = get_host()
    config = resolve_settings(
        host, stored=from_png, preset=preset, config_file=config_file, options=cli_settings, assignments=assignments
    )
    note = apply_threads(config.threads).note()
    if note:
        err_console.print(note, highlight=False)
    with (
        warnings.catch_warnings(record=True) as caught,
        loading(model_label(config)),
    ):
        warnings.simplefilter("always")
        prepared = prepare(host, config)
    for warning in caught:
        warn(str(warning.message))
    _warn_unused_model(config, cli_settings.get("model"), prepared.job.model.name)
    _warn_other_weights(from_png, dream_model(prepared.job).weights)
    total = total_steps(prepared.job)
    try:
        with _progress() as progress:
            task = progress.add_task(_describe(config, prepared.job.objective), total=total, score=float("nan"))
            prepared.job.on_step = lambda step, scores: progress.update(
                task, completed=step, score=float(scores.mean())
            )
            outcome = execute(host, prepared)
    except DreamInterrupted as stop:
        stop_interrupted(_interrupted_message(stop, total))
    _report(outcome, all(item.objective.uses_classes for item in run_items(config, prepared.job.objective)), config)
    if cli_settings.get("animation") and not outcome.result.frames:
        warn(
            f"no animation was written: --animation {config.animation} needs frames, every N steps with "
            "--save-every N (or a strategy's own, as zoom makes)."
        )
    if outcome.result.diverged:
        raise DreamError(outcome.result.diverged)


def _warn_unused_model(config: RunConfig, typed: str | None, used: str) -> None:
    """A ``--model`` typed beside a ``--checkpoint`` that holds another network is said to be unused."""
    if config.checkpoint and typed and typed != used:
        warn(f"--model {typed} is not used: checkpoint {config.checkpoint!r} holds its own network ({used}).")


def _warn_other_weights(from_png: str | None, used: Any) -> None:
    """A ``--from`` replay whose weights file holds other bytes than the dream's did is said to dream differently."""
    from dreamengine.run.imaging import read_manifest

    if not from_png or used is None:
        return
    stored = (read_manifest(from_png).get("model") or {}).get("weights") or {}
    if stored.get("sha256") and stored["sha256"] != used.sha256:
        warn(
            f"{str(used.path)!r} is not the weights file {from_png!r} was dreamed with (sha256 {stored['sha256']}, "
            f"now {used.sha256}): the dream will differ."
        )


def _describe(config: RunConfig, objective: Objective) -> str:
    """What the progress bar says is being dreamed: the classes, or an objective that reads none."""
    from dreamengine.run.expressions import PerItemObjective

    if objective.uses_classes and not isinstance(objective, PerItemObjective):
        what = ", ".join(config.classes[:3]) + (", ..." if len(config.classes) > 3 else "")
    else:  # an objective that reads no class, or one objective per dream
        what = config.objective
    return f"dreaming {what if len(what) <= 32 else what[:31] + '…'}"  # room left for the bar on 80 columns


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("objective {task.fields[score]:.3f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


def _interrupted_message(stop: DreamInterrupted, total: int) -> str:
    if not stop.paths:
        return "Interrupted before the first step finished: nothing written."
    return (
        f"Interrupted after step {stop.result.steps_done} of {total}: kept the dream so far "
        f"(marked interrupted in its settings): {', '.join(str(p) for p in stop.paths)}"
    )


def _report(outcome, of_classes: bool, config: RunConfig) -> None:
    """A row per dream: its class (or what it is named after, or where several share that, its number),
    objective value and file; the title says the dreams' size and where it came from."""
    height, width = outcome.result.image.shape[-2:]
    source = (
        "as set" if config.size is not None else "the checkpoint's own" if config.checkpoint else "the model's input"
    )
    table = Table(title=f"{width}x{height} pixels ({source} size)", title_justify="left")
    table.add_column("class" if of_classes else "dream")
    table.add_column("objective")
    table.add_column("file", overflow="fold")  # a path is never cut short
    dreams = [p for p in outcome.paths if p.suffix == ".png" and not p.stem.endswith("-side")]
    named = of_classes or len(set(outcome.targets)) == len(outcome.targets)
    for number, (name, score, path) in enumerate(zip(outcome.targets, outcome.result.scores.tolist(), dreams), 1):
        table.add_row(escape(name) if named else str(number), f"{score:.3f}", escape(str(path)))
    console.print(table)
    extra = [p for p in outcome.paths if p not in dreams]
    for path in extra:
        console.print(f"also wrote {path}", highlight=False, markup=False)
