"""The per-unit check: the dream's activation over the best dataset example's, and its share per layer."""

from __future__ import annotations

import math

import pytest

from dreamengine.atlas.check import layer_summary, sort_key, unit_check


def examples(*values):
    return [{"image": i, "activation": value} for i, value in enumerate(values)]


def test_the_ratio_is_the_dream_over_the_best_example():
    assert unit_check(12.0, examples(4.0, 6.0, 1.0)) == {"best": 6.0, "ratio": 2.0, "passed": True}
    assert unit_check(3.0, examples(6.0)) == {"best": 6.0, "ratio": 0.5, "passed": False}
    assert unit_check(6, examples(6.0))["passed"] is True  # a tie passes: >= 1
    assert unit_check(1.0, examples(0.5))["ratio"] == 2.0  # any best above 0 gives a ratio, below 1 too


@pytest.mark.parametrize(
    ("dream", "best", "passed"), [(0.5, 0.0, True), (-1.0, -2.0, True), (-3.0, -2.0, False), (0.0, 0.0, True)]
)
def test_over_a_best_example_at_or_below_zero_there_is_no_ratio_but_a_verdict(dream, best, passed):
    assert unit_check(dream, examples(best, best - 1)) == {"best": best, "ratio": None, "passed": passed}


@pytest.mark.parametrize(
    ("dream", "records"),
    [(None, examples(1.0)), (math.nan, examples(1.0)), (2.0, []), (2.0, None), (2.0, examples(None, math.inf))],
)
def test_nothing_to_compare_is_unchecked(dream, records):
    assert unit_check(dream, records)["passed"] is None and unit_check(dream, records)["ratio"] is None


def test_a_layer_summary_counts_the_checked_units_that_passed():
    checks = [unit_check(2.0, examples(1.0)), unit_check(0.5, examples(1.0)), unit_check(None, examples(1.0))]
    checks.append(unit_check(1.0, examples(-1.0)))
    assert layer_summary(checks) == {"units": 4, "checked": 3, "passed": 2, "share": pytest.approx(2 / 3)}
    assert layer_summary([]) == {"units": 0, "checked": 0, "passed": 0, "share": None}


def test_sorting_puts_the_weakest_units_first_and_the_unchecked_last():
    checks = {
        "fails below zero": unit_check(-3.0, examples(-1.0)),
        "fails most": unit_check(0.25, examples(1.0)),
        "fails": unit_check(0.5, examples(1.0)),
        "passes": unit_check(2.0, examples(1.0)),
        "passes more": unit_check(3.0, examples(1.0)),
        "passes over zero": unit_check(1.0, examples(-1.0)),
        "unchecked": unit_check(None, examples(1.0)),
    }
    # sorted from the strongest first, then from the middle: a stable sort of equal keys keeps neither order
    for start in (list(reversed(checks)), [*list(checks)[3:], *list(checks)[:3]]):
        assert sorted(start, key=lambda name: sort_key(checks[name])) == list(checks)
