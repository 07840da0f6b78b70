"""`dreamengine train`: fine-tune a timm model on an image-folder dataset, a checkpoint per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.once import once
from dreamengine.cli.output import console, counted, err_console, stop_interrupted
from dreamengine.run.config import MAX_SEED

# Training imports torch: it is imported in the command, not here, because `dreamengine --help` imports every
# command's module and should start at once (see TorchCommand).
if TYPE_CHECKING:
    from dreamengine.training.fine_tune import EpochReport


def _skipped(files: list[Path], root: str) -> str:
    """``; skipped 2 unreadable files: a/notes.txt, b/broken.png``, or nothing."""
    if not files:
        return ""
    names = [str(path.relative_to(root)) if path.is_relative_to(root) else str(path) for path in files[:3]]
    return f"; skipped {counted(len(files), 'unreadable file')}: {', '.join(names)}" + (
        ", ..." if len(files) > 3 else ""
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@cli.command("train", cls=TorchCommand)
@click.argument("data_dir", type=click.Path(file_okay=False))
@once(
    "--model", "-m", default="efficientnet-lite0", show_default=True, help="Registered model or any timm architecture."
)
@click.option(
    "--pretrained/--no-pretrained",
    default=False,
    show_default=True,
    help="Start from timm's pretrained weights (downloads them).",
)
@once("--epochs", type=int, default=10, show_default=True, help="Train until this many epochs in all.")
@once("--lr", type=float, default=0.01, show_default=True, help="SGD learning rate (momentum 0.9).")
@once("--batch-size", type=int, default=32, show_default=True)
@once("--size", type=int, default=128, show_default=True, help="Images are resized to SIZE x SIZE.")
@click.option("--freeze-backbone", is_flag=True, help="Train only the classifier (the report's fc-only run).")
@once(
    "--val-fraction",
    type=float,
    default=0.2,
    show_default=True,
    help="Validation share when DATA_DIR has no train/ and val/ folders.",
)
@once(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    default=0,
    show_default=True,
    help="Seed of the weights, split and shuffles.",
)
@once("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@once("--output", "-o", default="checkpoints", show_default=True, help="Folder for epoch-NNN.pt files.")
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in --output.")
def train_command(data_dir: str, **options) -> None:
    """Fine-tune a classifier on DATA_DIR (one sub-folder per class; train/ + val/ if present).

    Writes epoch-000.pt (the starting point) and one checkpoint per epoch, ready
    for `dreamengine run --checkpoint` and `dreamengine study`.

    \b
    Examples:
      dreamengine demo-data demo && dreamengine train demo --model resnet10t --size 64 --epochs 5
      dreamengine train birds --model inception_v4 --pretrained --epochs 20 --output full
      dreamengine train birds --model inception_v4 --pretrained --freeze-backbone --output fc-only
    """
    from dreamengine.training.fine_tune import TrainCallbacks, TrainSettings, train

    settings = TrainSettings(data=data_dir, **options)
    host = get_host()  # before the progress bars: its status line is a live display too
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        console=err_console,
    ) as progress:
        tasks: dict[str, int] = {}

        def on_image(done: int, total: int) -> None:
            if "read" not in tasks:
                tasks["read"] = progress.add_task("reading images", total=total, stats="")
            progress.update(tasks["read"], completed=done, total=total)
            if done == total:
                del tasks["read"]

        def on_batch(epoch: int, batch: int, batches: int, loss: float, accuracy: float) -> None:
            key = f"epoch {epoch}"
            if key not in tasks:
                tasks[key] = progress.add_task(f"epoch {epoch}/{settings.epochs}", total=batches, stats="")
            progress.update(tasks[key], completed=batch, stats=f"loss {loss:.4f}  acc {accuracy:.1%}")

        saved: list[EpochReport] = []

        def on_epoch(report: EpochReport) -> None:
            saved.append(report)
            key = f"epoch {report.epoch}"
            if key in tasks:
                progress.update(
                    tasks[key],
                    stats=f"loss {report.train_loss:.4f}  acc {_percent(report.train_accuracy)}"
                    f"  val {_percent(report.val_accuracy)}",
                )
            else:
                progress.console.print(
                    f"epoch {report.epoch}: val accuracy {_percent(report.val_accuracy)}", highlight=False
                )

        def on_data(info: dict) -> None:
            progress.console.print(
                f"{len(info['classes'])} classes, {info['train']} training and {info['val']} "
                f"validation images ({info['split']})" + _skipped(info["skipped_files"], data_dir),
                highlight=False,
            )

        try:
            reports = train(host, settings, TrainCallbacks(on_data, on_image, on_batch, on_epoch))
        except KeyboardInterrupt:
            if saved:
                message = (
                    f"epoch {saved[-1].epoch} is the last saved, in {saved[-1].path}; run the same command "
                    "with --resume to carry on."
                )
            else:
                message = "no epoch was saved; run the same command to start again."
            stop_interrupted(f"Interrupted: {message}", on=progress.console)
    if reports:
        epochs = f"epoch {reports[0].epoch}" if len(reports) == 1 else f"epochs {reports[0].epoch}-{reports[-1].epoch}"
        console.print(
            f"wrote {counted(len(reports), 'checkpoint')} ({epochs}); the last is {reports[-1].path}", highlight=False
        )
    else:
        console.print(f"nothing to do: {settings.output} already holds {settings.epochs} epoch(s)", highlight=False)
