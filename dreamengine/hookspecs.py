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

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click
    import torch

    from dreamengine.components import DreamJob, DreamResult
    from dreamengine.protocols import Model, Settings

__all__ = ["hookspec", "hookimpl", "hook_names", "call_one", "PROJECT_NAME", "Register"]

PROJECT_NAME = "dreamengine"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Register(Protocol):
    """The ``register`` callback a registration hook receives; the host names, checks and keeps what it is given."""

    def __call__(self, name: str, target: Any, *, summary: str | None = None) -> None:
        """Register ``target`` (a factory, or a preset's settings) as ``name``; ``summary`` defaults to its doc."""


@hookspec
def dreamengine_register_objectives(register: Register) -> None:
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
def dreamengine_register_regularizers(register: Register) -> None:
    """Register regularizers: transforms, penalties, gradient filters and projections of the image.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Regularizer`. Options work as for
        objectives.
    """


@hookspec
def dreamengine_register_initializers(register: Register) -> None:
    """Register initializers: the image a dream starts from.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Initializer`. Options work as for
        objectives.
    """


@hookspec
def dreamengine_register_parametrizations(register: Register) -> None:
    """Register image parametrizations: how the optimised tensors become the image.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Parametrization`. Options work as for
        objectives.
    """


@hookspec
def dreamengine_register_strategies(register: Register) -> None:
    """Register strategies: how a job's steps are run (octaves, tiling), chosen with ``--strategy``.

    Called once when the registry is built.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Strategy`. Options work as for
        objectives.
    """


@hookspec
def dreamengine_register_panels(register: Register) -> None:
    """Register panels: the sections of an atlas's unit page (the dream, its dataset examples, a plugin's own).

    Called once when the registry is built; the atlas shows every registered panel on every unit's page.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        returns a :class:`dreamengine.Panel`. The atlas calls it with no
        arguments, so its options need defaults.
    """


@hookspec
def dreamengine_register_models(register: Register) -> None:
    """Register named models that ``--model NAME`` can load.

    Called once when the registry is built. Names not registered here are
    passed to :func:`dreamengine_load_model`.

    :param register: ``register(name, factory, *, summary=None)``; ``factory``
        is called as ``factory(pretrained=bool)`` (whether the user passed
        ``--pretrained``; a model that always has trained weights may ignore
        it) and returns a :class:`dreamengine.DreamModel`.
    """


@hookspec
def dreamengine_register_presets(register: Register) -> None:
    """Register presets: named sets of run settings that ``--preset NAME`` applies.

    Called once when the registry is built.

    :param register: ``register(name, settings, *, summary=None)``; ``settings``
        is a mapping of run settings with the same keys as a ``--config`` TOML
        file (``model``, ``objective``, ``reg``, ``init``, ``steps``, ...).
    """


@hookspec
def dreamengine_register_executors(register: Register) -> None:
    """Register executors: where a study's or an atlas's tasks run, chosen with ``--executor NAME``.

    Called once when the registry is built. The built-ins are ``local`` and ``ray``.

    :param register: ``register(name, factory, *, summary=None)``. ``factory``
        is called with ``address`` and ``workers`` as keyword arguments where
        the user gave ``--address`` or ``--workers`` (a factory that takes
        neither refuses them) and returns an executor: an object with
        ``run(tasks, work)`` that yields ``(task, work(task))`` for every task,
        in the order they finish, and stops the rest when closed. ``work`` is
        picklable (a :class:`dreamengine.Work`), so it can run in other
        processes; it writes nothing: the command writes every result.
    """


@hookspec(firstresult=True)
def dreamengine_load_model(name: str, pretrained: bool, num_classes: int | None, in_chans: int) -> Model | None:
    """Load a model that is not registered by name, or decline.

    Called for ``--model NAME`` when no plugin registered ``NAME``, and for the
    architecture stored in a checkpoint. Implementations are tried in turn; the
    built-in timm loader runs last. Stops at first non-None result.

    :param str name: the architecture or model name the user gave.
    :param bool pretrained: whether the user asked for pretrained weights.
    :param num_classes: the number of classes the model must have, or ``None``
        for its own default.
    :param int in_chans: the input channels the model must take: 3 (RGB), or 1
        for a grayscale network's weights. A loader that builds RGB models only
        may leave the argument out; the weights then do not fit, and the user is
        told so in one line.
    :return: a :class:`dreamengine.DreamModel`, or ``None`` to decline.
    """


@hookspec
def dreamengine_register_commands(cli: click.Group) -> None:
    """Add commands to the ``dreamengine`` command line.

    Called once when the CLI starts, for every command and ``--help``, on the
    entry-point plugins alone (the built-ins add no command): keep the module
    light, with torch imported in the command's body.

    :param click.Group cli: the top-level group; use ``@cli.command()``.
    """


@hookspec(firstresult=True)
def dreamengine_run_dream(job: DreamJob) -> DreamResult | None:
    """Run one dream job: the gradient-ascent loop.

    Every dream goes through it: a run, each study cell, each stage of a
    strategy (an octave, a zoom frame) and a tiled dream. The core supplies the
    default loop (:func:`dreamengine.engine.loop.run_job`: ``job.make_loop(job).run()``,
    a :class:`dreamengine.DreamLoop` unless a strategy chose a subclass),
    registered last. A plugin may wrap it (``@hookimpl(wrapper=True)``) to time
    or profile a run, or replace it by returning a result first. Stops at first
    non-None result.

    :param dreamengine.DreamJob job: everything the loop needs, already built.
    :return: a :class:`dreamengine.DreamResult`.
    """


@hookspec
def dreamengine_step_end(job: DreamJob, step: int, scores: torch.Tensor) -> None:
    """Observe the end of one step of a dream.

    Called after every step, only when some plugin implements it (otherwise
    the loop pays nothing).

    An implementation that raises stops the dream as Ctrl-C does: the run
    writes the dream so far (marked as stopped) and ends with one line naming
    the plugin and the error, and a non-zero exit status.

    :param dreamengine.DreamJob job: the running job; ``job.image`` is not to
        be modified.
    :param int step: the step just finished, counting from 1.
    :param torch.Tensor scores: the objective value of each batch item.
    """


@hookspec
def dreamengine_run_end(config: Settings, result: DreamResult, paths: list[Path]) -> None:
    """Observe a finished dream, after its files are written.

    Called for every finished dream: each run, and each study cell. A study
    cell is dreamed in memory (here or on a Ray worker) and written by the
    study's own process, which calls this hook there once per cell written:
    ``config`` is the cell's settings, ``result`` its dream (no frames) and
    ``paths`` its two files (the picture and its ``-side.png``). Not called for
    a dream stopped before its end (Ctrl-C, a failing :func:`dreamengine_step_end`).
    An implementation that raises ends the run with one line naming the plugin
    and saying the dream was written, and a non-zero exit status.

    :param dreamengine.RunConfig config: the settings of the dream.
    :param dreamengine.DreamResult result: images, scores and frames.
    :param list[pathlib.Path] paths: the files written.
    """


def call_one(pm: pluggy.PluginManager, hook_name: str, impl: pluggy.HookImpl, **kwargs: Any) -> list[Any]:
    """Call one plugin's implementation of a hook, through pluggy so that trace mode shows the call."""
    others = [plugin for plugin in pm.get_plugins() if plugin is not impl.plugin]
    results: list[Any] = pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
    return results


def hook_names() -> list[str]:
    """The name of every hook specified above, sorted."""
    return sorted(name for name in globals() if name.startswith(f"{PROJECT_NAME}_"))
