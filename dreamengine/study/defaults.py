"""A study's defaults that ``study --help`` shows: this module imports no torch, so the help needs none."""

from __future__ import annotations

__all__ = ["REPORT_STEPS"]

#: The dream step counts the report compared: a study's columns unless ``--steps`` says otherwise.
REPORT_STEPS = (200, 500, 1000, 2000)
