"""dreamengine: a plugin-based deep-dream engine.

The public API for plugin authors and scripts is what this module exports;
built-in plugins import nothing else. Names are imported when first used, so
``from dreamengine import hookimpl`` (all a plugin's entry module needs) does
not import torch: the command line starts at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dreamengine.analysis.directions import read_vector
    from dreamengine.components import (
        DreamJob,
        DreamOutputs,
        DreamResult,
        Initializer,
        Objective,
        Panel,
        Parametrization,
        Regularizer,
        Strategy,
    )
    from dreamengine.engine.loop import (
        OPTIMIZERS,
        DreamLoop,
        PixelParametrization,
    )
    from dreamengine.engine.model import DreamModel
    from dreamengine.engine.phases import compose_transforms
    from dreamengine.errors import DreamError, DreamInterrupted, WeightsUnavailable, unknown_name
    from dreamengine.filters import gaussian_blur
    from dreamengine.hookspecs import Register, hookimpl
    from dreamengine.run.config import RunConfig
    from dreamengine.run.executors import Executor, Work
    from dreamengine.run.imaging import fit_image, load_image, to_tensor
    from dreamengine.run.notebook import Picture, dream, objective
    from dreamengine.warping import Warp, resample, rotation, zoom

#: Where each public name lives; :func:`__getattr__` imports it on first use.
_PUBLIC = {
    "DreamError": "dreamengine.errors",
    "DreamInterrupted": "dreamengine.errors",
    "WeightsUnavailable": "dreamengine.errors",
    "unknown_name": "dreamengine.errors",
    "hookimpl": "dreamengine.hookspecs",
    "Register": "dreamengine.hookspecs",
    "DreamJob": "dreamengine.components",
    "DreamOutputs": "dreamengine.components",
    "DreamResult": "dreamengine.components",
    "Initializer": "dreamengine.components",
    "Objective": "dreamengine.components",
    "Parametrization": "dreamengine.components",
    "Regularizer": "dreamengine.components",
    "Strategy": "dreamengine.components",
    "Panel": "dreamengine.components",
    "Warp": "dreamengine.warping",
    "resample": "dreamengine.warping",
    "rotation": "dreamengine.warping",
    "zoom": "dreamengine.warping",
    "gaussian_blur": "dreamengine.filters",
    "DreamModel": "dreamengine.engine.model",
    "OPTIMIZERS": "dreamengine.engine.loop",
    "DreamLoop": "dreamengine.engine.loop",
    "PixelParametrization": "dreamengine.engine.loop",
    "compose_transforms": "dreamengine.engine.phases",
    "RunConfig": "dreamengine.run.config",
    "Executor": "dreamengine.run.executors",
    "Work": "dreamengine.run.executors",
    "fit_image": "dreamengine.run.imaging",
    "load_image": "dreamengine.run.imaging",
    "to_tensor": "dreamengine.run.imaging",
    "read_vector": "dreamengine.analysis.directions",
    "dream": "dreamengine.run.notebook",
    "objective": "dreamengine.run.notebook",
    "Picture": "dreamengine.run.notebook",
    "atlas": "dreamengine.atlas",  # the package, which is callable: dreamengine.atlas(model, ...)
}

#: Spelt out (not ``[*_PUBLIC, ...]``) so that type checkers see what the facade exports.
__all__ = [
    "DreamError",
    "DreamInterrupted",
    "WeightsUnavailable",
    "unknown_name",
    "hookimpl",
    "Register",
    "DreamJob",
    "DreamOutputs",
    "DreamResult",
    "Initializer",
    "Objective",
    "Parametrization",
    "Regularizer",
    "Strategy",
    "Panel",
    "Warp",
    "resample",
    "rotation",
    "zoom",
    "gaussian_blur",
    "DreamModel",
    "DreamLoop",
    "OPTIMIZERS",
    "PixelParametrization",
    "compose_transforms",
    "RunConfig",
    "Executor",
    "Work",
    "fit_image",
    "load_image",
    "to_tensor",
    "read_vector",
    "dream",
    "objective",
    "Picture",
    "atlas",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import a public name from the module it lives in, the first time it is used."""
    if name == "__version__":
        return _version()
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dreamengine' has no attribute {name!r}")
    if module == f"{__name__}.{name}":  # a callable sub-package (atlas): its import makes it this attribute
        return importlib.import_module(module)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _version() -> str:
    """The installed distribution's version, read when first asked for: reading it imports half the standard
    library (``importlib.metadata``), which the command line's start, before it holds Ctrl-C, does without."""
    metadata = importlib.import_module("importlib.metadata")
    try:
        found: str = metadata.version("dreamengine")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found


def __dir__() -> list[str]:
    """The public names (what ``from dreamengine import *`` gives)."""
    return sorted(__all__)
