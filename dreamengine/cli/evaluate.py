"""`dreamengine evaluate`: score a folder of dreams with judge networks, as a rich table and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from dreamengine.analysis.defaults import DEFAULT_JUDGES, DEFAULT_THUMB, GROUPING_NAMES
from dreamengine.cli.group import TorchCommand, cli, get_host
from dreamengine.cli.model_options import model_options, model_settings
from dreamengine.cli.once import once
from dreamengine.cli.output import console, err_console
from dreamengine.errors import DreamError

# Judging imports torch: it is imported in the command, not here, because `dreamengine --help` imports every
# command's module and should start at once (see TorchCommand).
if TYPE_CHECKING:
    from dreamengine.analysis.evaluation import Report


@cli.command("evaluate", cls=TorchCommand)
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--judge",
    "-j",
    "judges",
    multiple=True,
    help="A model to judge with (repeatable): a registered one, a timm architecture with its pretrained "
    "weights, or your own (a saved model's folder, or an architecture with --judge-weights). "
    f"[default: {', '.join(DEFAULT_JUDGES)}, "
    "less any model that made the dreams]",
)
@once(
    "--thumb",
    type=int,
    default=DEFAULT_THUMB,
    show_default=True,
    help="Also judge each dream shrunk to THUMB pixels (longer side; a smaller dream as it is) and "
    "scaled back up; 0: off.",
)
@once(
    "--group-by",
    type=click.Choice(GROUPING_NAMES),
    default="folder",
    show_default=True,
    help="Summary rows per sub-folder (a study's settings), per target class, or one for all.",
)
@click.option("--per-image", is_flag=True, help="Also print one row per dream and judge.")
@once("--json", "json_path", metavar="PATH", help="Write the report as JSON to PATH ('-': stdout only).")
@once("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@model_options(prefix="judge", leave_out=("model", "pretrained"))
def evaluate_command(
    folder: str,
    judges: tuple[str, ...],
    thumb: int,
    group_by: str,
    per_image: bool,
    json_path: str | None,
    device: str,
    **judge_options: Any,
) -> None:
    """Score the dreams in FOLDER with judges: networks other than the one that dreamed.

    Each PNG knows its target class from its stored settings. For each judge,
    sub-folder (group) and view (full size, thumbnail) it prints the top-1 and
    top-5 recognition rates and the mean probability of the target class;
    then, per group, the median colourfulness, contrast and sharpness of the
    dreams (no judge needed: photographs score 38-77, 0.11-0.29 and about 0.1).

    \b
    Examples:
      dreamengine evaluate dreams
      dreamengine evaluate dreams --judge efficientnet-lite2 --per-image
      dreamengine evaluate dreams --json scores.json
      dreamengine evaluate dreams --judge torchvision:resnet50 --judge-weights resnet50.pth
    """
    from dreamengine.analysis.evaluation import check_report_path, evaluate_folder
    from dreamengine.run.imaging import write_atomic
    from dreamengine.run.prepare import resolve_device

    if json_path not in (None, "-"):
        check_report_path(json_path)
    host = get_host()  # before the progress bars: its status line is a live display too
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_scored(judge: str, done: int, total: int) -> None:
            if judge not in tasks:
                tasks[judge] = progress.add_task(f"judging with {judge}", total=total)
            progress.update(tasks[judge], completed=done)

        try:
            report = evaluate_folder(
                host,
                folder,
                judges or None,
                thumb=thumb,
                group_by=group_by,
                device=str(resolve_device(device)),
                on_scored=on_scored,
                judge_settings=model_settings(judge_options, prefix="judge"),
            )
        except DreamError:  # a judge that could not be loaded leaves no empty bar above the error
            for task in progress.tasks:
                if not task.completed:
                    progress.remove_task(task.id)
            raise
    for skipped in report.skipped:
        if not skipped.companion:
            err_console.print(
                f"[yellow]skipped[/] {escape(str(skipped.path))}: {escape(skipped.reason)}", highlight=False
            )
    companions = sum(skipped.companion for skipped in report.skipped)
    if companions:
        err_console.print(f"left out {companions} side-by-side picture(s) and contact sheet(s)", highlight=False)
    if json_path == "-":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    for judge in report.judges:
        console.print(_summary_table(report, judge))
    console.print(_measures_table(report))
    if per_image:
        console.print(_image_table(report))
        console.print(_image_measures_table(report))
    if json_path:
        text = json.dumps(report.to_dict(), indent=2)
        write_atomic(Path(json_path), lambda handle: handle.write(text.encode()))
        console.print(f"wrote {json_path}", highlight=False)


def _view_columns(table: Table, report: Report, names: tuple[str, ...]) -> None:
    for view in report.views:
        for name in names:
            table.add_column(f"{view}\n{name}", justify="right")


def _summary_table(report: Report, judge: str) -> Table:
    """One judge's scores, a row per group (a table per judge keeps its name whole on a narrow terminal)."""
    table = Table(title=f"Dreams in {escape(report.folder)} as {escape(judge)} sees them", title_justify="left")
    for column in ("group", "dreams"):
        table.add_column(column, justify="right" if column == "dreams" else "left", overflow="fold")
    _view_columns(table, report, ("top-1", "top-5", "p(target)"))
    for group, entry in report.summary.items():
        cells = [
            f"{entry['judges'][judge][view][key]:{fmt}}"
            for view in report.views
            for key, fmt in (("top1", ".0%"), ("top5", ".0%"), ("p_target", ".3f"))
        ]
        table.add_row(escape(group), str(entry["count"]), *cells)
    return table


#: The measures of how a dream looks (keys of the report's ``measures``), each with its format in the tables.
MEASURES = {"colourfulness": ".1f", "contrast": ".3f", "sharpness": ".4f"}


def _measures_table(report: Report) -> Table:
    """How each group's dreams look: the median of each measure, a row per group."""
    table = Table(
        title=f"Dreams in {escape(report.folder)}: median colourfulness, RMS contrast, sharpness",
        title_justify="left",
    )
    table.add_column("group", overflow="fold")
    for heading in ("dreams", *MEASURES):
        table.add_column(heading, justify="right")
    for group, entry in report.summary.items():
        cells = [f"{entry['measures'][key]['median']:{fmt}}" for key, fmt in MEASURES.items()]
        table.add_row(escape(group), str(entry["count"]), *cells)
    return table


def _image_measures_table(report: Report) -> Table:
    """How each dream looks, a row per dream (apart from the judges' table, which has a row per dream and judge)."""
    table = Table(title="Per dream: colourfulness, RMS contrast, sharpness", title_justify="left")
    for column in ("dream", "target"):
        table.add_column(column, overflow="fold")
    for heading in MEASURES:
        table.add_column(heading, justify="right")
    for image in report.images:
        cells = [f"{image['measures'][key]:{fmt}}" for key, fmt in MEASURES.items()]
        table.add_row(escape(image["path"]), escape(image["target"]["name"]), *cells)
    return table


def _image_table(report: Report) -> Table:
    table = Table(
        title="Per dream: rank of the target (1 is best), its probability, the judge's top-1", title_justify="left"
    )
    for column in ("dream", "target", "judge"):
        table.add_column(column, overflow="fold")
    _view_columns(table, report, ("rank", "p", "sees"))
    for image in report.images:
        for judge in report.judges:
            cells = [cell for view in report.views for cell in _image_cells(image["judges"][judge][view])]
            table.add_row(escape(image["path"]), escape(image["target"]["name"]), escape(judge), *cells)
    return table


def _image_cells(item: dict) -> list[str]:
    return [str(item["rank"] + 1), f"{item['p_target']:.3f}", escape(item["top1"].split(",")[0])]
