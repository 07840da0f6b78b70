"""The plugin: registers this distribution's components, model loader, run observer and command with dreamengine.

This module is what the ``dreamengine`` entry point names; dreamengine calls
each ``dreamengine_*`` function here when it needs it: the registration hooks
once, when it builds its registry; ``dreamengine_register_commands`` when the
command line starts; ``dreamengine_load_model`` when a model is loaded by
name; ``dreamengine_run_end`` after each run.

The command line imports this module for every command, ``--help`` included,
so it imports only ``dreamengine.hookimpl`` at the top (the facade imports no
torch) and each component module inside the hook that needs it.
"""

from __future__ import annotations

from dreamengine import hookimpl


@hookimpl
def dreamengine_register_parametrizations(register):
    """Register ``pyramid``."""
    from .parametrizations import Pyramid

    register("pyramid", Pyramid)


@hookimpl
def dreamengine_register_initializers(register):
    """Register ``radial`` and ``checkerboard``."""
    from .initializers import Checkerboard, Radial

    register("radial", Radial)
    register("checkerboard", Checkerboard)


@hookimpl
def dreamengine_load_model(name, num_classes):
    """Serve ``colours:NAME,NAME,...``; decline (``None``) every other name, for the next loader (timm last).

    It takes fewer arguments than the hook offers: the network has no weights, so ``pretrained`` changes nothing.
    """
    from .models import load

    return load(name, num_classes)


@hookimpl
def dreamengine_run_end(config, result, paths):
    """Write a JSON sidecar of scores beside the run's files, when ``DREAMENGINE_EXTRAS_SIDECAR=1``."""
    from .sidecar import wanted, write_sidecar

    if wanted():
        write_sidecar(config, result, paths)


@hookimpl
def dreamengine_register_commands(cli):
    """Add ``dreamengine tv``."""
    from .commands import tv_command

    cli.add_command(tv_command)
