"""Objective expressions built: a weighted sum of objectives and penalties becomes one objective and its penalty
regularizers, and objectives separated by ``;`` one per batch item (the syntax, and its parsing:
run/expression_syntax.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from dreamengine.components import DreamOutputs, Objective, Regularizer, WeightedObjective
from dreamengine.errors import DreamError
from dreamengine.run.expression_syntax import ObjectiveSpec, Term, parse_objective

__all__ = [
    "WeightedObjective",
    "WeightedPenalty",
    "PerItemObjective",
    "build_objective",
]


class WeightedPenalty(Regularizer):
    """The penalty of a regularizer, added to the objective with a coefficient (``- 0.01*tv``)."""

    def __init__(self, coefficient: float, regularizer: Regularizer) -> None:
        self.coefficient = coefficient
        self.regularizer = regularizer

    def penalty(self, image: torch.Tensor) -> torch.Tensor:
        return -self.coefficient * self.regularizer.penalty(image)


class PerItemObjective(Objective):
    """Objectives dreamed side by side: batch item ``i`` maximises ``objectives[i]`` (``a; b; c``).

    Attributes:
        objectives: one per batch item.
        texts: each one as it was typed (what its dream is named after).
    """

    def __init__(self, objectives: Sequence[Objective], texts: Sequence[str]) -> None:
        self.objectives, self.texts = list(objectives), list(texts)
        self.layers = tuple(dict.fromkeys(layer for objective in self.objectives for layer in objective.layers))
        self.needs_logits = any(objective.needs_logits for objective in self.objectives)
        self.compares_items = any(objective.compares_items for objective in self.objectives)
        self.uses_classes = any(objective.uses_classes for objective in self.objectives)

    def prepare(self, model):
        for objective in self.objectives:
            objective.prepare(model)

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        if len(outputs.targets) != len(self.objectives):
            raise DreamError(
                f"{len(self.objectives)} objectives (one per dream) met a batch of {len(outputs.targets)} dreams."
            )
        return torch.stack([objective(outputs)[item] for item, objective in enumerate(self.objectives)])


def build_objective(
    registry, objective: str | ObjectiveSpec, options: Mapping[str, Mapping[str, Any]]
) -> tuple[Objective, list[Regularizer], list[str]]:
    """Build the objective a setting names: one spec, an expression, or several of them separated by ``;``, one
    per batch item (a :class:`PerItemObjective`); given as text, or as :func:`parse_objective` parsed it.

    Returns the objective, the penalty terms as regularizers, and the names of
    the components used (``options`` holds extra options by component name).
    """
    parsed = parse_objective(objective) if isinstance(objective, str) else objective
    if len(parsed.parts) == 1:
        return _build_expression(registry, *parsed.parts[0], options)
    built = [_build_expression(registry, text, terms, options) for text, terms in parsed.parts]
    if any(penalties for _, penalties, _ in built):
        raise DreamError(
            f"objective {parsed.text!r}: the objectives of the batch's dreams (separated by ';') take no "
            "penalty terms; add one for them all to --reg, after the other regularizers: ...,tv:weight=0.01."
        )
    names = list(dict.fromkeys(name for _, _, used in built for name in used))
    texts = [text for text, _ in parsed.parts]
    return PerItemObjective([objective for objective, _, _ in built], texts), [], names


def _build_expression(
    registry, text: str, terms: Sequence[Term], options: Mapping[str, Mapping[str, Any]]
) -> tuple[Objective, list[Regularizer], list[str]]:
    """:func:`build_objective` of one spec or expression, ``text`` parsed into ``terms``."""
    if len(terms) == 1 and terms[0].coefficient == 1.0:
        spec = terms[0].spec
        return registry.create("objectives", spec, options.get(spec.name)), [], [spec.name]
    objectives, penalties = [], []
    for term in terms:
        name = term.spec.name
        if name in registry.entries["objectives"]:
            objectives.append((term.coefficient, registry.create("objectives", term.spec, options.get(name))))
        elif name in registry.entries["regularizers"]:
            regularizer = registry.create("regularizers", term.spec, options.get(name))
            if "penalty" not in regularizer.phases():
                raise DreamError(
                    f"term {str(term.spec)!r} of the objective is a regularizer without a penalty; "
                    "only objectives and penalties (tv, l2) can be terms."
                )
            penalties.append(WeightedPenalty(term.coefficient, regularizer))
        else:
            registry.get("objectives", name)  # raises: unknown, with a suggestion
    if not objectives:
        raise DreamError(f"the objective expression {text!r} has no objective term, only penalties.")
    return WeightedObjective(objectives), penalties, [term.spec.name for term in terms]
