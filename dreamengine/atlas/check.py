"""The atlas's measured check: does a unit's dream drive the unit harder than every real image does?

A unit's check is ``dream activation / best example activation`` (both the unit's mean activation, see
examples.json and the unit's record): at 1 or more the optimised image beats the best of the dataset, as it
should. A ratio is only meaningful over a positive best example: when the best real image has an activation
at or below 0 (a unit that the dataset never turns on, common after a ReLU-less projection), there is no ratio
(``None``), and the unit passes when its dream's activation is above that best one (any dream that turns the
unit on beats a dataset that never does). A unit without a dream activation or without examples is not
checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["unit_check", "layer_summary", "sort_key"]


def unit_check(activation: float | None, examples: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """The check of one unit: ``{"best": float | None, "ratio": float | None, "passed": bool | None}``.

    ``best`` is the largest ``activation`` of ``examples`` (the unit's records of examples.json); ``ratio`` is
    ``activation / best`` when ``best > 0``; ``passed`` is ``activation >= best``. ``best`` is ``None`` without examples
    (values that are not finite numbers are left out), ``ratio`` and ``passed`` are when there is nothing to
    compare (no examples, no dream activation).
    """
    finite = [value for record in examples or () if (value := _number(record.get("activation"))) is not None]
    best = max(finite) if finite else None
    dream = _number(activation)
    if best is None or dream is None:
        return {"best": best, "ratio": None, "passed": None}
    return {"best": best, "ratio": dream / best if best > 0 else None, "passed": dream >= best}


def layer_summary(checks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A layer's summary of its units' :func:`unit_check` results: ``{"units", "checked", "passed", "share"}``,
    ``share`` being the part of the checked units that passed (``None`` when none was checked)."""
    results = [check.get("passed") for check in checks]
    checked = [passed for passed in results if passed is not None]
    passed = sum(1 for result in checked if result)
    return {
        "units": len(results),
        "checked": len(checked),
        "passed": passed,
        "share": passed / len(checked) if checked else None,
    }


def sort_key(check: Mapping[str, Any]) -> tuple[int, float]:
    """A key that sorts checks from the weakest unit to the strongest: failed, then passed, then unchecked
    last; by ratio within each (without a ratio, over a best example at or below 0: a pass after the
    ratios, a failure before them)."""
    passed, ratio = check.get("passed"), check.get("ratio")
    if passed is None:
        return (2, 0.0)
    if ratio is None:  # over a best example at or below 0: a pass beats every ratio, a failure none
        return (int(bool(passed)), math.inf if passed else -math.inf)
    return (int(bool(passed)), ratio)


def _number(value: object) -> float | None:
    """``value`` as a float if it is a finite number (not a bool), else ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
