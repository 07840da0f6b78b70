"""A run's batch: which dreams it holds (one per ``--class``, or one per objective dreamed side by side), their
class indices, and the warnings about a batch that would come out as copies or outgrow memory."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from dreamengine.components import Objective, Strategy
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.run.config import MAX_SIZE, RunConfig
from dreamengine.run.expressions import PerItemObjective

__all__ = [
    "Item",
    "run_items",
    "check_dream_size",
    "class_indices",
    "warn_if_copies_stay_alike",
    "warn_if_huge",
]


@dataclass(frozen=True)
class Item:
    """One dream of a run's batch: the class it is given (as typed), and its objective with its text."""

    class_name: str
    objective: Objective
    objective_text: str


def run_items(config: RunConfig, objective: Objective) -> list[Item]:
    """The dreams of a run: one per ``--class``, or, for objectives dreamed side by side (``a; b``), one per
    objective, with one ``--class`` for them all or one each."""
    if not isinstance(objective, PerItemObjective):
        return [Item(name, objective, config.objective) for name in config.classes]
    count, classes = len(objective.objectives), list(config.classes)
    if len(classes) == 1:
        classes *= count
    elif len(classes) != count:
        raise DreamError(
            f"--objective gives {count} objectives, one per dream (separated by ';'), but "
            f"{len(classes)} classes were given: give one --class for them all, or {count}, one each."
        )
    return [Item(*parts) for parts in zip(classes, objective.objectives, objective.texts)]


def class_indices(config: RunConfig, model: DreamModel, objective: Objective) -> list[int]:
    """The model's index of each dream's class; an unknown default class says how to name another. An objective
    that reads no class needs none: its dreams get index 0."""
    items = run_items(config, objective)
    try:
        return [model.class_index(item.class_name) if item.objective.uses_classes else 0 for item in items]
    except DreamError as error:
        if config.classes != RunConfig().classes:
            raise
        raise DreamError(
            f"{error} {config.classes[0]!r} is only the default class: name one of this model's classes with -c."
        ) from None


def warn_if_copies_stay_alike(init: str, objective: Objective, indices: list[int], image: torch.Tensor) -> None:
    """Warn when the batch holds copies of one dream (a class given twice, or several items of an objective that
    reads no class) that start from the same image: they would come out identical."""
    if isinstance(objective, PerItemObjective):  # each dream its own objective
        return
    copies = len(set(indices)) < len(indices) if objective.uses_classes else len(indices) > 1
    if not copies or not bool((image == image[:1]).all()):
        return
    start = f"the same image (--init {init})"
    if objective.compares_items:
        why = (
            f"the objective compares the batch's dreams with each other, but dreams of the same class start "
            f"from {start}: they get the same gradients and stay the same."
        )
    elif objective.uses_classes:
        why = (
            f"a class is dreamed more than once, but its copies start from {start} and share every random "
            "draw, so they come out identical."
        )
    else:
        why = (
            f"the objective reads no --class, so the batch's {len(indices)} dreams are copies of one: they "
            f"start from {start} and share every random draw, so they come out identical."
        )
    warnings.warn(
        f"{why} Start them apart, e.g. --init noise, or dream the copies with other --seed values.", stacklevel=3
    )


def check_dream_size(height: int, width: int) -> None:
    """Refuse, before any memory is taken, a dream under 8 pixels or over :data:`MAX_SIZE` pixels a side."""
    if height < 8 or width < 8:
        raise DreamError(f"the dream size must be at least 8 pixels, got {width}x{height} (width x height).")
    if max(height, width) > MAX_SIZE:
        raise DreamError(
            f"the dream size must be at most {MAX_SIZE} pixels a side, got {width}x{height} (width x height): "
            f"a dream's image, gradient and optimizer state alone take 3 GiB at {MAX_SIZE}x{MAX_SIZE}."
        )


#: Above this many times the network's input pixels (per batch), an untiled dream is warned about its memory.
_HUGE = 25


def warn_if_huge(
    strategies: Sequence[Strategy], input_size: tuple[int, int], height: int, width: int, count: int
) -> None:
    """Warn before a run puts far more pixels through the network at once than its ``input_size`` (memory grows
    with them), with the way out that fits: tiles for a large image, fewer classes per run for a large batch. A
    strategy that :attr:`~dreamengine.Strategy.bounds_memory` shows the network about its input at a time."""
    net_height, net_width = input_size
    tiled = any(strategy.bounds_memory for strategy in strategies)
    each = 1.0 if tiled else height * width / (net_height * net_width)  # a tile is about the network's input
    if each * count <= _HUGE:
        return
    ways = []
    if not tiled and each > 1:
        ways.append("--strategy tile (or crops) dreams each image a part at a time in bounded memory")
    if count > 1:
        ways.append(f"all {count} classes are dreamed at once, so fewer per run hold less")
    warnings.warn(
        f"this dream runs the network on {each * count:.0f}x the pixels of its {net_height}x{net_width} "
        "input at once, and memory grows with them (the default model took 2 GiB for one 1024x1024 "
        f"dream on the CPU); {'; '.join(ways)}.",
        stacklevel=3,
    )
