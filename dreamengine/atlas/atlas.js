// The atlas's keys and controls: no network, no data but the page's own.
"use strict";

function isTyping() {
  return /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement && document.activeElement.tagName);
}

// ← and → go to the neighbours, u one level up, / to the search, Escape leaves it.
document.addEventListener("keydown", event => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (isTyping()) {
    if (event.key === "Escape") document.activeElement.blur();
    return;
  }
  const search = document.querySelector("[data-search]");
  if (event.key === "/" && search) {
    event.preventDefault();
    search.focus();
    return;
  }
  const rel = {ArrowLeft: "prev", ArrowRight: "next", u: "up"}[event.key];
  const link = rel && document.querySelector('link[rel="' + rel + '"]');
  if (link) location.href = link.href;
});

// Sort a grid's items by a number they carry (data-unit, data-check), the largest check first.
for (const button of document.querySelectorAll("[data-sort]")) {
  button.addEventListener("click", () => {
    const list = document.getElementById(button.dataset.target);
    const key = button.dataset.sort;
    const value = item => item.dataset[key] === undefined ? -Infinity : Number(item.dataset[key]);
    const items = [...list.children];
    items.sort((a, b) => key === "unit" ? value(a) - value(b) : value(b) - value(a) || value(a) - value(b));
    list.append(...items);
    for (const other of document.querySelectorAll("[data-sort]")) other.setAttribute("aria-pressed", other === button);
  });
}

// Whether an item's data-name holds every word typed: a number as a whole number (27 is not 127 or 270), other
// words anywhere in its names.
function matches(name, typed) {
  const numbers = name.split(/[^0-9]+/).filter(Boolean);
  return typed.split(/\s+/).filter(Boolean).every(word => /^[0-9]+$/.test(word) ? numbers.includes(word) : name.includes(word));
}

// Filter a list by the words typed (an item's data-name holds its number and names); Enter opens the first left.
for (const input of document.querySelectorAll("[data-search]")) {
  const list = document.getElementById(input.dataset.target);
  input.addEventListener("input", () => {
    const typed = input.value.toLowerCase().trim();
    for (const item of list.children) item.hidden = Boolean(typed) && !matches(item.dataset.name, typed);
  });
  input.addEventListener("keydown", event => {
    const first = [...list.children].find(item => !item.hidden && item.querySelector("a"));
    if (event.key === "Enter" && first) first.querySelector("a").click();
  });
}
