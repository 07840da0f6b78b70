"""dreamengine: a plugin-based deep-dream engine.

The public API for plugin authors and scripts is what this module exports;
built-in plugins import nothing else. Names are imported when first used, so
``from dreamengine import hookimpl`` (all a plugin's entry module needs) does
not import torch: the command line starts at once.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dreamengine.analysis.directions import read_vector
    from dreamengine.components import (
        DreamJob,
        DreamOutputs,
        DreamResult,
        Initializer,
        Objective,
        Parametrization,
        Regularizer,
        Strategy,
    )
    from dreamengine.engine.loop import OPTIMIZERS, PixelParametrization, divergence_message, run_steps
    from dreamengine.engine.model import DreamModel
    from dreamengine.engine.phases import compose_transforms, regularizers_by_phase
    from dreamengine.errors import DreamError, DreamInterrupted, WeightsUnavailable, unknown_name
    from dreamengine.hookspecs import hookimpl
    from dreamengine.run.config import RunConfig
    from dreamengine.run.imaging import fit_image, load_image, to_tensor
    from dreamengine.warping import Warp, resample

#: Where each public name lives; :func:`__getattr__` imports it on first use.
_PUBLIC = {
    "DreamError": "dreamengine.errors",
    "DreamInterrupted": "dreamengine.errors",
    "WeightsUnavailable": "dreamengine.errors",
    "unknown_name": "dreamengine.errors",
    "hookimpl": "dreamengine.hookspecs",
    "DreamJob": "dreamengine.components",
    "DreamOutputs": "dreamengine.components",
    "DreamResult": "dreamengine.components",
    "Initializer": "dreamengine.components",
    "Objective": "dreamengine.components",
    "Parametrization": "dreamengine.components",
    "Regularizer": "dreamengine.components",
    "Strategy": "dreamengine.components",
    "Warp": "dreamengine.warping",
    "resample": "dreamengine.warping",
    "DreamModel": "dreamengine.engine.model",
    "OPTIMIZERS": "dreamengine.engine.loop",
    "PixelParametrization": "dreamengine.engine.loop",
    "divergence_message": "dreamengine.engine.loop",
    "run_steps": "dreamengine.engine.loop",
    "compose_transforms": "dreamengine.engine.phases",
    "regularizers_by_phase": "dreamengine.engine.phases",
    "RunConfig": "dreamengine.run.config",
    "fit_image": "dreamengine.run.imaging",
    "load_image": "dreamengine.run.imaging",
    "to_tensor": "dreamengine.run.imaging",
    "read_vector": "dreamengine.analysis.directions",
}

try:
    __version__ = version("dreamengine")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str) -> Any:
    """Import a public name from the module it lives in, the first time it is used."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dreamengine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
