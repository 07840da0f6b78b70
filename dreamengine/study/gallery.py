"""The study's gallery: one static HTML page that works offline (no server, no network).

Pick a run, class, objective, blur and seed; the page shows that grid, epochs
down the side and dream steps across, each image with its settings on hover
and in full on click. The study's data is embedded in the page as JSON.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from dreamengine.errors import DreamError
from dreamengine.run.imaging import read_manifest, write_atomic
from dreamengine.run.pages import script_json
from dreamengine.study.plan import StudyPlan
from dreamengine.study.sheets import grids, sheet_path

__all__ = ["check_gallery_path", "gallery_data", "write_gallery"]

_SETTINGS = ("checkpoint", "objective", "reg", "init", "steps", "lr", "optimizer", "size", "seed")


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def gallery_data(plan: StudyPlan) -> dict:
    """The page's data: the axes, the epochs of each run, and every cell with its settings."""
    root = plan.output
    cells = []
    for cell in plan.cells:
        task, config = cell.task, cell.config.to_dict()
        settings = {key: config[key] for key in _SETTINGS}
        settings["checkpoint"] = Path(settings["checkpoint"]).name
        cells.append(
            {
                "run": task.checkpoint.run,
                "class": task.target,
                "objective": task.objective,
                "blur": task.blur,
                "seed": task.seed,
                "epoch": task.checkpoint.epoch,
                "steps": cell.steps,
                "image": _relative(cell.side_path, root),
                "raw": _relative(cell.path, root),
                "score": read_manifest(cell.path).get("score"),
                "settings": settings,
            }
        )
    axes = {name: list(dict.fromkeys(c[name] for c in cells)) for name in ("run", "class", "objective", "blur", "seed")}
    epochs = {c.run: {} for c in plan.checkpoints}
    for checkpoint in plan.checkpoints:
        epochs[checkpoint.run][checkpoint.epoch] = checkpoint.val_accuracy
    sheets = {"|".join(map(str, grid)): _relative(sheet_path(plan, grid), root) for grid in grids(plan)}
    return {
        "axes": axes,
        "steps": plan.steps,
        "epochs": {run: sorted(e.items()) for run, e in epochs.items()},
        "cells": cells,
        "sheets": sheets,
    }


def check_gallery_path(output: Path) -> None:
    """Refuse, before a study starts, an output folder whose ``index.html`` is not a study's page: the study
    would replace it (a website's own page, say)."""
    page = Path(output) / "index.html"
    if page.exists() and not _is_gallery(page):
        raise DreamError(
            f"{str(page)!r} is there and is not a study's page, which the study would write in its "
            "place: choose another folder with --output."
        )


def _is_gallery(page: Path) -> bool:
    try:
        return _MARK in page.read_text(errors="replace")
    except OSError:
        return False


def write_gallery(plan: StudyPlan, title: str = "dreamengine study") -> Path:
    """Write ``index.html`` into the study folder; returns its path."""
    fields = {"title": html.escape(title), "data": script_json(gallery_data(plan))}
    page = re.sub(r"\{\{(title|data)\}\}", lambda match: fields[match[1]], _PAGE)
    return write_atomic(plan.output / "index.html", lambda handle: handle.write(page.encode("utf-8")))


#: A line of script that every study page has had: how :func:`check_gallery_path` knows one.
_MARK = 'const key = [pick.run, pick.class, pick.objective, pick.blur, pick.seed].join("|");'

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
label { margin-right: 1em; }
table { border-collapse: collapse; margin-top: 1em; }
th { font-weight: 600; padding: 4px 8px; text-align: left; white-space: nowrap; }
td { padding: 3px; }
img { display: block; image-rendering: pixelated; height: 128px; cursor: pointer; }
img.selected { outline: 3px solid #d33; }
#details { white-space: pre-wrap; background: #f4f4f4; padding: 0.8em; margin-top: 1em; min-height: 2em; }
.note { color: #666; }
</style>
</head>
<body>
<h1>{{title}}</h1>
<p class="note">Each picture is a dream: raw on the left, rescaled on the right. Rows are training epochs,
columns dream steps. Hover for the settings; click for all of them.</p>
<form id="pickers"></form>
<p><a id="sheet" href="#">contact sheet of this grid</a></p>
<table id="grid"></table>
<div id="details">Click a picture to see how it was made.</div>
<script id="study-data" type="application/json">{{data}}</script>
<script>
"use strict";
const study = JSON.parse(document.getElementById("study-data").textContent);
const state = {loaded: 0, failed: 0};
const pickers = document.getElementById("pickers");
const names = {run: "training run", class: "class", objective: "objective", blur: "blur", seed: "seed"};

function describe(cell) {
  return Object.entries(cell.settings).map(([k, v]) => k + ": " + (Array.isArray(v) ? v.join(", ") : v)).join("\\n");
}

function choice(axis) {
  return document.getElementById("pick-" + axis).value;
}

function record(image, ok) {
  state[ok ? "loaded" : "failed"] += 1;
  document.body.dataset.loaded = state.loaded;
  document.body.dataset.failed = state.failed;
  if (!ok) image.alt = "missing: " + image.getAttribute("src");
}

function show() {
  const pick = Object.fromEntries(Object.keys(names).map(axis => [axis, choice(axis)]));
  const cells = study.cells.filter(c => Object.keys(names).every(axis => String(c[axis]) === pick[axis]));
  const table = document.getElementById("grid");
  table.replaceChildren();
  const head = table.insertRow();
  head.appendChild(document.createElement("th"));
  for (const steps of study.steps) {
    const th = document.createElement("th");
    th.textContent = steps + " steps";
    head.appendChild(th);
  }
  for (const [epoch, accuracy] of study.epochs[pick.run]) {
    const row = table.insertRow();
    const th = document.createElement("th");
    th.textContent = "epoch " + epoch + (accuracy === null ? "" : " (val " + Math.round(accuracy * 100) + "%)");
    row.appendChild(th);
    for (const steps of study.steps) {
      const td = row.insertCell();
      const cell = cells.find(c => c.epoch === epoch && c.steps === steps);
      if (!cell) continue;
      const image = new Image();
      image.addEventListener("load", () => record(image, true));
      image.addEventListener("error", () => record(image, false));
      image.src = cell.image;
      image.alt = cell.class + ", epoch " + epoch + ", " + steps + " steps";
      image.title = describe(cell);
      image.addEventListener("click", () => select(image, cell));
      td.appendChild(image);
    }
  }
  const key = [pick.run, pick.class, pick.objective, pick.blur, pick.seed].join("|");
  document.getElementById("sheet").href = study.sheets[key] || "#";
  location.hash = new URLSearchParams(pick).toString();
}

function select(image, cell) {
  document.querySelectorAll("img.selected").forEach(i => i.classList.remove("selected"));
  image.classList.add("selected");
  const score = cell.score === null ? "-" : cell.score.toFixed(3);
  document.getElementById("details").textContent = cell.class + ", " + cell.run + ", epoch " + cell.epoch + ", "
    + cell.steps + " steps, objective value " + score + "\\n" + describe(cell) + "\\nfile: " + cell.raw;
}

const wanted = new URLSearchParams(location.hash.slice(1));
for (const [axis, label] of Object.entries(names)) {
  const span = document.createElement("label");
  span.textContent = label + " ";
  const select = document.createElement("select");
  select.id = "pick-" + axis;
  for (const value of study.axes[axis]) select.add(new Option(value, String(value)));
  if (study.axes[axis].map(String).includes(wanted.get(axis))) select.value = wanted.get(axis);
  select.disabled = study.axes[axis].length < 2;
  select.addEventListener("change", show);
  span.appendChild(select);
  pickers.appendChild(span);
}
show();
</script>
</body>
</html>
"""
