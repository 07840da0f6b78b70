"""The public API, listed once: each public name, imported from the module it lives in.

Type checkers read this stub for :mod:`dreamengine`; at run time ``__init__.py`` reads the same lines (``from .MODULE
import NAME as NAME``, one name each) into the table its ``__getattr__`` imports from on first use, and into
``__all__``. A public name is added here and nowhere else.
"""

from . import atlas as atlas  # the package, which is callable: dreamengine.atlas(model, ...)
from .analysis.directions import read_vector as read_vector
from .components import DreamJob as DreamJob
from .components import DreamOutputs as DreamOutputs
from .components import DreamResult as DreamResult
from .components import Initializer as Initializer
from .components import Objective as Objective
from .components import Panel as Panel
from .components import Parametrization as Parametrization
from .components import Regularizer as Regularizer
from .components import Strategy as Strategy
from .engine.loop import OPTIMIZERS as OPTIMIZERS
from .engine.loop import DreamLoop as DreamLoop
from .engine.loop import PixelParametrization as PixelParametrization
from .engine.model import DreamModel as DreamModel
from .engine.phases import compose_transforms as compose_transforms
from .errors import DreamError as DreamError
from .errors import DreamInterrupted as DreamInterrupted
from .errors import WeightsUnavailable as WeightsUnavailable
from .errors import unknown_name as unknown_name
from .filters import gaussian_blur as gaussian_blur
from .hookspecs import Register as Register
from .hookspecs import hookimpl as hookimpl
from .run.config import RunConfig as RunConfig
from .run.executors import Executor as Executor
from .run.imaging import fit_image as fit_image
from .run.imaging import load_image as load_image
from .run.imaging import to_tensor as to_tensor
from .run.notebook import Picture as Picture
from .run.notebook import dream as dream
from .run.notebook import objective as objective
from .run.work import Work as Work
from .warping import Warp as Warp
from .warping import resample as resample
from .warping import rotation as rotation
from .warping import zoom as zoom

__version__: str
