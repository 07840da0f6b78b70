"""The plugin: registers this distribution's components and command with dreamengine.

This module is what the ``dreamengine`` entry point names; dreamengine calls
each ``dreamengine_*`` function here once, when it builds its registry (or, for
commands, when the command line starts).
"""

from __future__ import annotations

from dreamengine import hookimpl

from .commands import tv_command
from .initializers import Checkerboard, Radial
from .objectives import Diversity
from .regularizers import RandomAffine, TotalVariation


@hookimpl
def dreamengine_register_regularizers(register):
    """Register ``smooth`` and ``affine``."""
    register("smooth", TotalVariation)
    register("affine", RandomAffine)


@hookimpl
def dreamengine_register_objectives(register):
    """Register ``diverse-logit``."""
    register("diverse-logit", Diversity)


@hookimpl
def dreamengine_register_initializers(register):
    """Register ``radial`` and ``checkerboard``."""
    register("radial", Radial)
    register("checkerboard", Checkerboard)


@hookimpl
def dreamengine_register_commands(cli):
    """Add ``dreamengine tv``."""
    cli.add_command(tv_command)
