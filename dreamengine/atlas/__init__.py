"""An atlas of every unit of a model: dreams, dataset examples, classes, a static site.

The package is also callable, ``dreamengine.atlas(model, images="photos/", output="atlas")``: it is
:func:`dreamengine.atlas.build.atlas` (the facade's ``atlas`` and this package are one name).
"""

import sys
import types
from typing import Any

from dreamengine.atlas.build import atlas as _atlas


class _CallableAtlas(types.ModuleType):
    """The ``dreamengine.atlas`` package, which calls :func:`dreamengine.atlas.build.atlas` when called."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _atlas(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableAtlas
