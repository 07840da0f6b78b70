"""Speed settings of a run: batch norms folded (on by default), the channels-last memory format (on by
default on the CPU), and the opt-in torch.compile and bfloat16 autocast.

docs/performance.md has the measurements behind each default and the command
that repeats them.
"""

from __future__ import annotations

import warnings

import torch

from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.run.config import RunConfig

__all__ = ["PRECISIONS", "accelerate", "uses_channels_last"]

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
    if model.autocast is not None and model.mean.device.type == "cpu":
        warnings.warn(
            f"--precision {config.precision} on the CPU is usually far slower than fp32 (16x in a measured step on "
            "a CPU without bfloat16 instructions); it pays off on a GPU.",
            stacklevel=2,
        )
    if config.fold_norms:
        model.fold_norms()
    else:
        model.unfold_norms()
    layout = (
        torch.channels_last if uses_channels_last(config.channels_last, model.mean.device) else torch.contiguous_format
    )
    model.to(memory_format=layout)
    if config.compile:
        model.net.compile()
    return model


def uses_channels_last(setting: bool | None, device: torch.device) -> bool:
    """The ``channels_last`` setting, or where it is unset (``None``) the measured default for ``device``.

    On the CPU, with the norms folded, channels-last made the engine step
    0.8-0.9x; on a GPU at batch 1 it was slower (docs/performance.md), so it
    stays off there unless asked for.
    """
    return setting if setting is not None else device.type == "cpu"
