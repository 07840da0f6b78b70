"""Objective expressions: weighted sums of objectives and penalties, as typed on the command line.

::

    logit:flamingo + 0.5*layer:blocks.5:12 - 0.01*tv
    layer:blocks.4 + 0.5*diversity:blocks.4
    layer:blocks.4:0; layer:blocks.4:1; layer:blocks.4:2

Each term is ``[COEFFICIENT*]SPEC``, a component spec naming an objective or a
regularizer with a penalty phase (``tv``, ``l2``). Terms are joined by ``+``,
or by ``-`` with a space before it (names such as ``cross-entropy`` contain
``-``). The sum of the objectives is maximised; a penalty term adds its
coefficient times the penalty, so ``- 0.01*tv`` is the usual sign.

``;`` separates objectives dreamed side by side, one per item of the batch:
three channels of a layer in one run, above.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from dreamengine.components import DreamOutputs, Objective, Regularizer
from dreamengine.errors import DreamError
from dreamengine.options import ComponentSpec, parse_spec

__all__ = [
    "Term",
    "ObjectiveSpec",
    "parse_expression",
    "parse_objective",
    "objective_parts",
    "WeightedObjective",
    "WeightedPenalty",
    "PerItemObjective",
    "build_objective",
]

_COEFFICIENT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*\*\s*")


@dataclass(frozen=True)
class Term:
    """One term of an expression: a coefficient and a component spec."""

    coefficient: float
    spec: ComponentSpec


def parse_expression(text: str) -> list[Term]:
    """Parse ``a + 0.5*b - 0.01*c`` into its terms; a DreamError names the position and what was expected."""
    terms = []
    for sign, start, body in _split(text):
        terms.append(_term(text, sign, start, body))
    return terms


@dataclass(frozen=True)
class ObjectiveSpec:
    """An objective setting, parsed: its ``text`` as typed, and each objective it dreams side by side (``a; b``,
    one per batch item; most settings hold one) as a ``(text, terms)`` pair."""

    text: str
    parts: tuple[tuple[str, tuple[Term, ...]], ...]

    @property
    def terms(self) -> tuple[Term, ...]:
        """Every term of every part, in order."""
        return tuple(term for _, terms in self.parts for term in terms)


@functools.lru_cache(maxsize=256)
def parse_objective(text: str) -> ObjectiveSpec:
    """Parse an objective setting: one spec, an expression, or several separated by ``;`` (parsed once per text:
    the result is cached, and immutable)."""
    texts = objective_parts(text)
    if len(texts) == 1:
        return ObjectiveSpec(text, ((text, tuple(parse_expression(text))),))
    if not all(texts):
        raise DreamError(
            f"malformed objective {text!r}: an empty objective between ';'s (';' separates the "
            "objectives of the batch's dreams, one each)."
        )
    return ObjectiveSpec(text, tuple((part, tuple(parse_expression(part))) for part in texts))


def _split(text: str) -> list[tuple[float, int, str]]:
    """(sign, position, text) of each term: split at '+', and at '-' after a space or at the start."""
    parts, sign, start = [], 1.0, 0
    stripped = text.lstrip()
    if stripped[:1] in "+-" and stripped:
        sign = -1.0 if stripped[0] == "-" else 1.0
        start = len(text) - len(stripped) + 1
    for index in range(start, len(text)):
        char = text[index]
        if char == "+" or (char == "-" and text[index - 1].isspace()):
            parts.append((sign, start, text[start:index]))
            sign, start = (1.0 if char == "+" else -1.0), index + 1
    parts.append((sign, start, text[start:]))
    return parts


def _term(text: str, sign: float, start: int, body: str) -> Term:
    def fail(offset: int, expected: str) -> DreamError:
        return DreamError(
            f"malformed objective expression {text!r} at position {start + offset + 1}: expected {expected}."
        )

    if not body.strip():
        raise fail(len(body) - len(body.lstrip()), "a term (a component spec, optionally after 'NUMBER*')")
    coefficient, spec_start = 1.0, 0
    match = _COEFFICIENT.match(body)
    if match:
        coefficient, spec_start = float(body[: match.end()].strip().rstrip("*")), match.end()
        if not math.isfinite(coefficient):
            raise fail(0, f"a weight a float can hold, not {body[: match.end()].strip().rstrip('*').strip()}")
    elif "*" in body:
        raise fail(body.index("*"), "a number before '*', as in '0.5*layer:blocks.4'")
    spec_text = body[spec_start:]
    if not spec_text.strip() or "*" in spec_text:
        where = spec_start + (spec_text.index("*") if "*" in spec_text else len(spec_text))
        raise fail(where, "one component spec after 'NUMBER*', as in '0.5*layer:blocks.4'")
    return Term(sign * coefficient, parse_spec(spec_text))


class WeightedObjective(Objective):
    """A weighted sum of objectives, per batch item."""

    def __init__(self, parts: Sequence[tuple[float, Objective]]) -> None:
        self.parts = list(parts)
        self.layers = tuple(dict.fromkeys(layer for _, objective in self.parts for layer in objective.layers))
        self.needs_logits = any(objective.needs_logits for _, objective in self.parts)
        self.compares_items = any(objective.compares_items for _, objective in self.parts)
        self.uses_classes = any(objective.uses_classes for _, objective in self.parts)

    def prepare(self, model):
        for _, objective in self.parts:
            objective.prepare(model)

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        total = None
        for coefficient, objective in self.parts:
            value = coefficient * objective(outputs)
            total = value if total is None else total + value
        return total


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


def objective_parts(text: str) -> list[str]:
    """The objectives ``text`` dreams side by side, one per batch item (``a; b; c``): one part for most."""
    return [part.strip() for part in text.split(";")]


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
