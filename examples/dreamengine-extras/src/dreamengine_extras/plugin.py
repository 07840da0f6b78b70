"""The plugin: registers this distribution's components and command with dreamengine.

This module is what the ``dreamengine`` entry point names; dreamengine calls
each ``dreamengine_*`` function here once, when it builds its registry (or, for
commands, when the command line starts).

Keep it light: dreamengine imports it for every command, ``dreamengine --help``
included, to add its commands. So it imports the modules that hold the
components (and torch with them) inside the hooks that register them, and
the command's module imports torch only when the command runs.
"""

from __future__ import annotations

from dreamengine import hookimpl


@hookimpl
def dreamengine_register_regularizers(register):
    """Register ``smooth`` and ``affine``."""
    from .regularizers import RandomAffine, TotalVariation

    register("smooth", TotalVariation)
    register("affine", RandomAffine)


@hookimpl
def dreamengine_register_objectives(register):
    """Register ``diverse-logit``."""
    from .objectives import Diversity

    register("diverse-logit", Diversity)


@hookimpl
def dreamengine_register_initializers(register):
    """Register ``radial`` and ``checkerboard``."""
    from .initializers import Checkerboard, Radial

    register("radial", Radial)
    register("checkerboard", Checkerboard)


@hookimpl
def dreamengine_register_commands(cli):
    """Add ``dreamengine tv``."""
    from .commands import tv_command

    cli.add_command(tv_command)
