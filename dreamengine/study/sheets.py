"""Contact sheets: one labelled PNG per study grid, epochs (or weights files) down the side and dream steps across."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from dreamengine.engine.classes import slug
from dreamengine.run.imaging import SHEET_KEY, load_image, save_png
from dreamengine.study.plan import StudyPlan

__all__ = ["SHEET_KEY", "grids", "sheet_path", "write_sheets"]


_LABEL_WIDTH, _HEADER, _GAP, _MIN_HEIGHT = 150, 44, 6, 96


def grids(plan: StudyPlan) -> dict[tuple, list]:
    """The study's grids (run, class, objective, blur, seed), each with its cells."""
    found: dict[tuple, list] = {}
    for task, cells in plan.tasks.items():
        found.setdefault(task.grid(), []).extend(cells)
    return found


def sheet_path(plan: StudyPlan, grid: tuple) -> Path:
    """Where the contact sheet of ``grid`` goes."""
    run, target, objective, blur, seed = grid
    name = plan.folders.get(target) or slug(target)
    return plan.output / "sheets" / f"{slug(run)}_{name}_{slug(objective)}_blur-{slug(blur)}_seed{seed}.png"


def _render(plan: StudyPlan, grid: tuple, cells: list) -> Image.Image:
    epochs = sorted({cell.task.checkpoint.epoch for cell in cells})
    pictures = {(c.task.checkpoint.epoch, c.steps): load_image(c.side_path) for c in cells}
    first = next(iter(pictures.values()))
    scale = max(1, -(-_MIN_HEIGHT // first.height))
    tile_w, tile_h = first.width * scale, first.height * scale
    width = _LABEL_WIDTH + len(plan.steps) * (tile_w + _GAP)
    height = _HEADER + len(epochs) * (tile_h + _GAP)
    sheet = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    run, target, objective, blur, seed = grid
    draw.text(
        (4, 4),
        f"{target} | {run} | objective {objective} | blur {blur} | seed {seed}  (raw | rescaled)",
        fill="black",
        font=font,
    )
    for column, steps in enumerate(plan.steps):
        draw.text((_LABEL_WIDTH + column * (tile_w + _GAP), _HEADER - 16), f"{steps} steps", fill="black", font=font)
    rows = {c.task.checkpoint.epoch: c.task.checkpoint for c in cells}
    for row, epoch in enumerate(epochs):
        top = _HEADER + row * (tile_h + _GAP)
        accuracy = rows[epoch].val_accuracy
        label = rows[epoch].label + ("" if accuracy is None else f"\nval acc {accuracy:.0%}")
        draw.multiline_text((4, top + 4), label, fill="black", font=font)
        for column, steps in enumerate(plan.steps):
            tile = pictures[(epoch, steps)].resize((tile_w, tile_h), Image.Resampling.NEAREST)
            sheet.paste(tile, (_LABEL_WIDTH + column * (tile_w + _GAP), top))
    return sheet


def write_sheets(plan: StudyPlan) -> list[Path]:
    """Write one contact sheet per grid (from the cells on disk); returns their paths."""
    paths, folder = [], plan.folder()
    for grid, cells in grids(plan).items():
        run, target, objective, blur, seed = grid
        meta = {
            SHEET_KEY: {
                "run": run,
                "class": target,
                "objective": objective,
                "blur": blur,
                "seed": seed,
                "steps": plan.steps,
                "epochs": sorted({c.task.checkpoint.epoch for c in cells}),
            }
        }
        paths.append(save_png(_render(plan, grid, cells), folder.claim(plan.relative(sheet_path(plan, grid))), meta))
    return paths
