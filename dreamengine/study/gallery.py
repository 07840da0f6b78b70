"""The study's gallery: one static HTML page that works offline (no server, no network).

Pick a run, class, objective, blur and seed; the page shows that grid, epochs
down the side and dream steps across, as large as the window allows, rescaled
(each dream stretched to the full range) or raw, each image with its settings
on hover and in full on click. It shares the atlas's look
(:func:`dreamengine.run.pages.stylesheet`). The page is a template, ``templates/gallery.html``; its own style and
code are package files beside this module (``gallery.css``, ``gallery.js``), inlined into the page as they are, and
the study's data is embedded as JSON, so ``index.html`` is one file that works from ``file://``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from markupsafe import Markup

from dreamengine.run.imaging import read_manifest
from dreamengine.run.pages import render_page, stylesheet
from dreamengine.study.plan import StudyPlan
from dreamengine.study.sheets import grids, sheet_path

__all__ = ["gallery_data", "write_gallery"]

_SETTINGS = ("checkpoint", "weights", "objective", "reg", "init", "steps", "lr", "optimizer", "size", "seed")


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def gallery_data(plan: StudyPlan) -> dict:
    """The page's data: the axes, the epochs of each run, and every cell with its settings."""
    root = plan.output
    cells = []
    for cell in plan.cells:
        task, config = cell.task, cell.config.to_dict()
        settings = {key: config[key] for key in _SETTINGS}
        for key in ("checkpoint", "weights"):  # the row's file, by name; the other is not set
            if settings[key] is None:
                del settings[key]
            else:
                settings[key] = Path(settings[key]).name
        cells.append(
            {
                "run": task.checkpoint.run,
                "class": task.target,
                "objective": task.objective,
                "blur": task.blur,
                "seed": task.seed,
                "epoch": task.checkpoint.epoch,
                "row": task.checkpoint.label,
                "steps": cell.steps,
                "image": _relative(cell.side_path, root),
                "raw": _relative(cell.path, root),
                "score": read_manifest(cell.path).get("score"),
                "settings": settings,
            }
        )
    axes = {name: list(dict.fromkeys(c[name] for c in cells)) for name in ("run", "class", "objective", "blur", "seed")}
    epochs: dict[str, dict[int, tuple[float | None, str]]] = {c.run: {} for c in plan.checkpoints}
    for checkpoint in plan.checkpoints:
        epochs[checkpoint.run][checkpoint.epoch] = (checkpoint.val_accuracy, checkpoint.label)
    sheets = {"|".join(map(str, grid)): _relative(sheet_path(plan, grid), root) for grid in grids(plan)}
    return {
        "axes": axes,
        "steps": plan.steps,
        "epochs": {run: [[epoch, *row] for epoch, row in sorted(e.items())] for run, e in epochs.items()},
        "cells": cells,
        "sheets": sheets,
    }


def write_gallery(plan: StudyPlan, title: str = "dreamengine study") -> Path:
    """Write ``index.html`` into the study folder; returns its path."""
    page = render_page(
        __package__,
        "gallery.html",
        title=title,
        data=gallery_data(plan),
        style=Markup(stylesheet() + _asset("gallery.css")),
        script=Markup(_asset("gallery.js")),
    )
    return plan.folder().write_bytes("index.html", page.encode("utf-8"))


def _asset(name: str) -> str:
    """The package file ``name`` beside this module (the gallery's style or code, inlined into its page)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
