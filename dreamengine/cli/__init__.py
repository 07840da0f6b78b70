"""The ``dreamengine`` command line: a click group (:mod:`dreamengine.cli.group`) with one module per command."""

from dreamengine.cli import (
    atlas,
    classes,
    demo_data,
    direction,
    evaluate,
    info,
    layers,
    listing,
    montage,
    run,
    study,
    train,
)
from dreamengine.cli.group import cli, main

__all__ = [
    "cli",
    "main",
    "atlas",
    "classes",
    "demo_data",
    "direction",
    "evaluate",
    "info",
    "layers",
    "listing",
    "montage",
    "run",
    "study",
    "train",
]
