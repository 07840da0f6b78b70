"""The study's gallery: one static HTML page that works offline (no server, no network).

Pick a run, class, objective, blur and seed; the page shows that grid, epochs
down the side and dream steps across, as large as the window allows, rescaled
(each dream stretched to the full range) or raw, each image with its settings
on hover and in full on click. It shares the atlas's look
(:func:`dreamengine.run.pages.stylesheet`). The study's data is embedded in the page as JSON.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from dreamengine.run.imaging import read_manifest
from dreamengine.run.pages import script_json, stylesheet
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
    fields = {"title": html.escape(title), "data": script_json(gallery_data(plan)), "style": stylesheet() + _STYLE}
    page = re.sub(r"\{\{(title|data|style)\}\}", lambda match: fields[match[1]], _PAGE)
    return plan.folder().write_bytes("index.html", page.encode("utf-8"))


#: The gallery's own style, after the pages' shared one: a grid of square pictures sized to fill the screen.
_STYLE = """
#grid { display: grid; gap: var(--gap); align-items: center; }
#grid .head { font-weight: 600; white-space: nowrap; }
#grid img { display: block; width: var(--size, 160px); height: var(--size, 160px); object-fit: cover;
            background: #000; cursor: pointer; image-rendering: pixelated; }
#grid img.rescaled { object-position: 100% 0; }
#grid img.selected { outline: 3px solid var(--accent); outline-offset: 1px; }
#details { white-space: pre-wrap; background: var(--surface); border: 1px solid var(--line); border-radius: 4px;
           padding: 10px 14px; margin-top: 16px; min-height: 2em; }
#pickers { display: flex; flex-wrap: wrap; gap: 8px 18px; }
fieldset { border: 0; padding: 0; margin: 0; display: inline-flex; gap: 10px; align-items: baseline; }
legend { float: left; margin-right: 4px; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>{{style}}</style>
</head>
<body>
<header><h1>{{title}}</h1></header>
<main>
<p class="note">Each picture is a dream: rows are training epochs (or weights files), columns dream steps.
Rescaled stretches each dream's values to the full range, so that faint patterns show; raw is the dream as saved.
Hover for the settings, click for all of them.</p>
<div class="controls">
<form id="pickers"></form>
<fieldset id="view"><legend class="muted">show</legend>
<label><input type="radio" name="view" value="rescaled" checked> rescaled</label>
<label><input type="radio" name="view" value="raw"> raw</label></fieldset>
<a id="sheet" href="#">contact sheet of this grid</a>
</div>
<div id="grid"></div>
<div id="details">Click a picture to see how it was made.</div>
</main>
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

function view() {
  return document.querySelector("input[name=view]:checked").value;
}

function record(image, ok) {
  state[ok ? "loaded" : "failed"] += 1;
  document.body.dataset.loaded = state.loaded;
  document.body.dataset.failed = state.failed;
  if (!ok) image.alt = "missing: " + image.getAttribute("src");
}

function label(text) {
  const div = document.createElement("div");
  div.className = "head";
  div.textContent = text;
  return div;
}

// The pictures as large as the window lets every row and column of the grid be, never under 96 pixels.
function fit() {
  const grid = document.getElementById("grid");
  const rows = grid.dataset.rows, columns = grid.dataset.columns;
  const gap = parseFloat(getComputedStyle(grid).rowGap) || 0;
  const side = grid.children[Number(columns) + 1];  // the first row's label
  const wide = (grid.clientWidth - (side ? side.offsetWidth : 0) - gap * columns) / columns;
  const high = (innerHeight - grid.getBoundingClientRect().top - 40 - gap * rows) / rows;
  grid.style.setProperty("--size", Math.max(96, Math.floor(Math.min(wide, high))) + "px");
}

function show() {
  const pick = Object.fromEntries(Object.keys(names).map(axis => [axis, choice(axis)]));
  const cells = study.cells.filter(c => Object.keys(names).every(axis => String(c[axis]) === pick[axis]));
  const grid = document.getElementById("grid");
  const epochs = study.epochs[pick.run];
  grid.replaceChildren(label(""));
  grid.dataset.rows = epochs.length;
  grid.dataset.columns = study.steps.length;
  grid.style.gridTemplateColumns = "max-content repeat(" + study.steps.length + ", max-content)";
  for (const steps of study.steps) grid.appendChild(label(steps + " steps"));
  for (const [epoch, accuracy, row] of epochs) {
    grid.appendChild(label(row + (accuracy === null ? "" : " (val " + Math.round(accuracy * 100) + "%)")));
    for (const steps of study.steps) {
      const cell = cells.find(c => c.epoch === epoch && c.steps === steps);
      if (!cell) {
        grid.appendChild(document.createElement("div"));
        continue;
      }
      const image = new Image();
      image.addEventListener("load", () => record(image, true));
      image.addEventListener("error", () => record(image, false));
      image.src = view() === "raw" ? cell.raw : cell.image;
      image.className = view();
      image.alt = cell.class + ", " + row + ", " + steps + " steps, " + view();
      image.title = describe(cell);
      image.tabIndex = 0;
      image.addEventListener("click", () => select(image, cell));
      image.addEventListener("keydown", event => { if (event.key === "Enter") select(image, cell); });
      grid.appendChild(image);
    }
  }
  fit();
  const key = [pick.run, pick.class, pick.objective, pick.blur, pick.seed].join("|");
  document.getElementById("sheet").href = study.sheets[key] || "#";
  location.hash = new URLSearchParams({...pick, view: view()}).toString();
}

function select(image, cell) {
  document.querySelectorAll("img.selected").forEach(i => i.classList.remove("selected"));
  image.classList.add("selected");
  const score = cell.score === null ? "-" : cell.score.toFixed(3);
  document.getElementById("details").textContent = cell.class + ", " + cell.run + ", " + cell.row + ", "
    + cell.steps + " steps, objective value " + score + "\\n" + describe(cell) + "\\nfile: " + cell.raw;
}

const wanted = new URLSearchParams(location.hash.slice(1));
for (const [axis, text] of Object.entries(names)) {
  const span = document.createElement("label");
  span.textContent = text + " ";
  const select = document.createElement("select");
  select.id = "pick-" + axis;
  for (const value of study.axes[axis]) select.add(new Option(value, String(value)));
  if (study.axes[axis].map(String).includes(wanted.get(axis))) select.value = wanted.get(axis);
  select.disabled = study.axes[axis].length < 2;
  select.addEventListener("change", show);
  span.appendChild(select);
  pickers.appendChild(span);
}
for (const radio of document.querySelectorAll("input[name=view]")) {
  radio.checked = radio.value === (wanted.get("view") || "rescaled");
  radio.addEventListener("change", show);
}
addEventListener("resize", fit);
show();
</script>
</body>
</html>
"""
