"""Objective expressions parsed: from the text typed on the command line to terms (no torch here; run/expressions.py
builds them into objectives).

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

Code that composes objectives (the atlas) builds :class:`Term` and
:class:`ObjectiveSpec` values, and :func:`expression_text` writes them as this
text, the form a picture stores.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dreamengine.errors import DreamError
from dreamengine.options import ComponentSpec, parse_spec

__all__ = ["Term", "ObjectiveSpec", "parse_expression", "parse_objective", "objective_parts", "expression_text"]

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

    @classmethod
    def side_by_side(cls, *parts: Sequence[Term]) -> ObjectiveSpec:
        """The objective of ``parts``, one expression's terms per batch item (one part: one objective for every
        item), its text written by :func:`expression_text` (``a; b; c``), which :func:`parse_objective` reads back
        into the same terms."""
        if not parts or not all(parts):
            raise DreamError("an objective needs one term or more in each of its parts.")
        texts = [expression_text(terms) for terms in parts]
        return cls("; ".join(texts), tuple((text, tuple(terms)) for text, terms in zip(texts, parts, strict=True)))


def expression_text(terms: Sequence[Term]) -> str:
    """The text of an expression of ``terms``, as :func:`parse_expression` reads it: ``a + 0.5*b - 0.01*c``. The
    first term's weight is written only when it is not 1, every later term's always (``logit + 1*diversity:L``)."""
    pieces = []
    for index, term in enumerate(terms):
        weight = _number(abs(term.coefficient))
        body = str(term.spec) if index == 0 and weight == "1" else f"{weight}*{term.spec}"
        if index == 0:
            pieces.append(f"-{body}" if term.coefficient < 0 else body)
        else:
            pieces.append(f"{'-' if term.coefficient < 0 else '+'} {body}")
    return " ".join(pieces)


def _number(value: float) -> str:
    """``value`` as short as it reads back exactly: ``1``, ``0.5``, ``1e-05``."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


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


def objective_parts(text: str) -> list[str]:
    """The objectives ``text`` dreams side by side, one per batch item (``a; b; c``): one part for most."""
    return [part.strip() for part in text.split(";")]
