"""An atlas of every unit of a model: dreams, dataset examples, classes, a static site.

The package is also callable, ``dreamengine.atlas(model, images="photos/", output="atlas")``: it is
:func:`dreamengine.atlas.build.atlas` (the facade's ``atlas`` and this package are one name). Importing the package
imports no torch: :mod:`dreamengine.atlas.build` is imported on the first call, so a torch-free module here
(:mod:`~dreamengine.atlas.defaults`, what ``atlas --help`` shows) is read at once.
"""

import importlib
import sys
import types
from typing import Any


class _CallableAtlas(types.ModuleType):
    """The ``dreamengine.atlas`` package, which calls :func:`dreamengine.atlas.build.atlas` when called."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("dreamengine.atlas.build").atlas(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableAtlas
