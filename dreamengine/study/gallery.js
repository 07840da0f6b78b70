// The study's gallery: pickers for each axis of the study, the grid of the picked run (epochs down, dream steps
// across) sized to the window, rescaled or raw, the settings on hover and in full on click, the choice in the URL.
// Its data is the JSON in #study-data; it is inlined into index.html, so the page works from file:// alone.
"use strict";
const study = JSON.parse(document.getElementById("study-data").textContent);
const state = {loaded: 0, failed: 0};
const pickers = document.getElementById("pickers");
const names = {run: "training run", class: "class", objective: "objective", blur: "blur", seed: "seed"};

function describe(cell) {
  return Object.entries(cell.settings).map(([k, v]) => k + ": " + (Array.isArray(v) ? v.join(", ") : v)).join("\n");
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
    + cell.steps + " steps, objective value " + score + "\n" + describe(cell) + "\nfile: " + cell.raw;
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
