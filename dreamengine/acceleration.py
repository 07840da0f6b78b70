"""Speed settings of a run: batch norms folded (on by default), and the opt-in channels-last memory format,
torch.compile and bfloat16 autocast.

docs/performance.md has the measurements behind each default and the command
that repeats them.
"""

from __future__ import annotations

import torch

from .config import RunConfig
from .errors import DreamError
from .model import DreamModel

__all__ = ["PRECISIONS", "accelerate"]

#: ``RunConfig.precision`` values and the autocast dtype each runs the model under (``None``: float32).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


def accelerate(model: DreamModel, config: RunConfig) -> DreamModel:
    """Apply ``config``'s norm folding, channels-last, compile and precision settings to ``model`` in place; returns it.

    The model must already be frozen and on its device. Compiling happens lazily, on the
    first forward (inside the dream loop, with the objective's capture hooks
    in place).
    """
    if config.precision not in PRECISIONS:
        raise DreamError(f"unknown precision {config.precision!r}; use {' or '.join(PRECISIONS)}.")
    model.autocast = PRECISIONS[config.precision]
    model.fold_norms() if config.fold_norms else model.unfold_norms()
    model.to(memory_format=torch.channels_last if config.channels_last else torch.contiguous_format)
    if config.compile:
        model.net.compile()
    return model
