"""dreamengine: a plugin-based deep-dream engine.

The public API for plugin authors and scripts is what this module exports;
built-in plugins import nothing else.
"""

from importlib.metadata import PackageNotFoundError, version

from .components import DreamOutputs, Initializer, Objective, Parametrization, Regularizer, Strategy
from .config import RunConfig
from .directions import read_vector
from .engine import (OPTIMIZERS, DreamJob, DreamResult, PixelParametrization, divergence_message, regularizers_by_phase,
                     run_steps)
from .errors import DreamError, DreamInterrupted, WeightsUnavailable, unknown_name
from .hookspecs import hookimpl
from .imaging import load_image, to_tensor
from .model import DreamModel
from .warping import Warp, compose_transforms, resample

try:
    __version__ = version("dreamengine")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "DreamError",
    "DreamInterrupted",
    "DreamJob",
    "DreamModel",
    "DreamOutputs",
    "DreamResult",
    "Initializer",
    "Objective",
    "Parametrization",
    "PixelParametrization",
    "Regularizer",
    "RunConfig",
    "Strategy",
    "Warp",
    "WeightsUnavailable",
    "OPTIMIZERS",
    "divergence_message",
    "regularizers_by_phase",
    "compose_transforms",
    "resample",
    "run_steps",
    "hookimpl",
    "load_image",
    "read_vector",
    "to_tensor",
    "unknown_name",
    "__version__",
]
