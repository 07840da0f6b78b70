"""The engine's names the command line offers before torch loads: this module imports no torch, so ``run --help``
lists them at once, and :data:`~dreamengine.engine.loop.OPTIMIZERS` is made from them."""

from __future__ import annotations

__all__ = ["OPTIMIZER_NAMES"]

#: The names of :data:`dreamengine.OPTIMIZERS`, in the order ``--optimizer`` lists them.
OPTIMIZER_NAMES = ("adam", "adamw", "sgd")
