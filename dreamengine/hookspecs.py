"""The hook specifications: the contract between dreamengine and its plugins.

Every function here is only a documented signature. A plugin implements any of
them with :data:`dreamengine.hookimpl`; the argument names must match exactly,
though a plugin may accept fewer of them.

Registration hooks are called once, when the registry is built, and receive a
``register`` callback; the host keeps naming and validation. The run hooks are
called for every dream; the per-step loop itself never goes through pluggy
except for :func:`dreamengine_step_end`, which is only called when a plugin
implements it.
"""

from __future__ import annotations

import pluggy

__all__ = ["hookspec", "hookimpl", "hook_names", "PROJECT_NAME"]

PROJECT_NAME = "dreamengine"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def dreamengine_register_objectives(register):
    """Register objectives: what a dream maximises.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``. ``factory``
        is called with the user's options as keyword arguments and returns an
        :class:`dreamengine.Objective`. Options are the factory's keyword
        parameters; their annotations (``int``, ``float``, ``bool``, ``str``,
        optionally ``| None``) tell how text from the command line is parsed.
        ``summary`` defaults to the first line of the factory's docstring.
    """


@hookspec
def dreamengine_register_regularizers(register):
    """Register regularizers: transforms, penalties, gradient filters and projections of the image.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Regularizer`. Options work as for
        objectives.
    """


@hookspec
def dreamengine_register_initializers(register):
    """Register initializers: the image a dream starts from.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Initializer`. Options work as for
        objectives.
    """


@hookspec
def dreamengine_register_parametrizations(register):
    """Register image parametrizations: how the optimised tensors become the image.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Parametrization`. Options work as for
        objectives.
    """


@hookspec
def dreamengine_register_strategies(register):
    """Register strategies: how a job's steps are run (octaves, tiling), chosen with ``--strategy``.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Strategy`. Options work as for
        objectives.
    """


@hookspec
def dreamengine_register_models(register):
    """Register named models that ``--model NAME`` can load.

    Called once when the registry is built. Names not registered here are
    passed to :func:`dreamengine_load_model`.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        is called as ``factory(pretrained=bool)`` (whether the user passed
        ``--pretrained``; a model that always has trained weights may ignore
        it) and returns a :class:`dreamengine.DreamModel`.
    """


@hookspec
def dreamengine_register_presets(register):
    """Register presets: named sets of run settings that ``--preset NAME`` applies.

    Called once when the registry is built.

    :param register: ``register(name, settings, *, summary=None)``; ``settings``
        is a mapping of run settings with the same keys as a ``--config`` TOML
        file (``model``, ``objective``, ``reg``, ``init``, ``steps``, ...).
    """


@hookspec(firstresult=True)
def dreamengine_load_model(name, pretrained, num_classes):
    """Load a model that is not registered by name, or decline.

    Called for ``--model NAME`` when no plugin registered ``NAME``, and for the
    architecture stored in a checkpoint. Implementations are tried in turn; the
    built-in timm loader runs last. Stops at first non-None result.

    :param str name: the architecture or model name the user gave.
    :param bool pretrained: whether the user asked for pretrained weights.
    :param num_classes: the number of classes the model must have, or ``None``
        for its own default.
    :return: a :class:`dreamengine.DreamModel`, or ``None`` to decline.
    """


@hookspec
def dreamengine_register_commands(cli):
    """Add commands to the ``dreamengine`` command line.

    Called once when the CLI starts, for every command and ``--help``, on the
    entry-point plugins alone (the built-ins add no command): keep the module
    light, with torch imported in the command's body.

    :param click.Group cli: the top-level group; use ``@cli.command()``.
    """


@hookspec(firstresult=True)
def dreamengine_run_dream(job):
    """Run one dream job: the gradient-ascent loop.

    The core supplies the default loop (:func:`dreamengine.engine.loop.run_job`),
    registered last. A plugin may wrap it (``@hookimpl(wrapper=True)``) to time
    or profile a run, or replace it by returning a result first. Stops at first
    non-None result.

    :param dreamengine.DreamJob job: everything the loop needs, already built.
    :return: a :class:`dreamengine.DreamResult`.
    """


@hookspec
def dreamengine_step_end(job, step, scores):
    """Observe the end of one step of a dream.

    Called after every step, only when some plugin implements it (otherwise
    the loop pays nothing).

    :param dreamengine.DreamJob job: the running job; ``job.image`` is not to
        be modified.
    :param int step: the step just finished, counting from 1.
    :param torch.Tensor scores: the objective value of each batch item.
    """


@hookspec
def dreamengine_run_end(config, result, paths):
    """Observe a finished run, after its files are written.

    :param dreamengine.RunConfig config: the settings of the run.
    :param dreamengine.DreamResult result: images, scores and frames.
    :param list[pathlib.Path] paths: the files written.
    """


def hook_names() -> list[str]:
    """The name of every hook specified above, sorted."""
    return sorted(name for name in globals() if name.startswith(f"{PROJECT_NAME}_"))
