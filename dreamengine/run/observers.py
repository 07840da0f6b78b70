"""The hooks that observe a dream, ``dreamengine_step_end`` and ``dreamengine_run_end``, called so that a plugin
that raises in one is named in one line, and the dream is kept.

A step observer that raises stops the dream as Ctrl-C does: the loop keeps the
steps finished, and the run writes them (marked as stopped) before saying which
plugin failed. A run-end observer that raises finds the dream already written,
and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import torch

from dreamengine.components import DreamJob, DreamResult, StepCallback
from dreamengine.errors import DreamError
from dreamengine.plugins import PluginHost
from dreamengine.run.config import RunConfig

__all__ = ["HookFailed", "StepObserver", "run_ended", "culprit"]


class HookFailed(DreamError):
    """A plugin's observing hook raised: one line naming the plugin, its distribution and the error.

    Attributes:
        failure: what failed, e.g. ``plugin 'x' (dreamengine-x) failed in dreamengine_step_end at step 3
            (ValueError: boom)``.
        result: the dream as it was when the hook failed (``interrupted`` set when it stopped the dream), or ``None``.
        paths: the files written of that dream.
    """

    def __init__(self, failure: str, result: DreamResult | None = None, paths: Sequence[Path] = ()) -> None:
        super().__init__(failure)
        self.failure = failure
        self.result = result
        self.paths = list(paths)

    def __str__(self) -> str:
        if not self.paths:
            return f"{self.failure}."
        files = ", ".join(str(path) for path in self.paths)
        if self.result is not None and self.result.interrupted:
            return (
                f"{self.failure}; the dream so far ({self.result.steps_done} steps) was written, "
                f"marked as stopped: {files}"
            )
        return f"{self.failure}; the dream was written: {files}"


class _Stop(KeyboardInterrupt):
    """Raised out of a step callback to stop the loop as Ctrl-C does, keeping the steps finished."""


class StepObserver:
    """``job.on_step`` that calls the ``dreamengine_step_end`` hook after ``on_step``.

    A plugin that raises there stops the dream (as Ctrl-C does, so the loop keeps
    the steps finished); :attr:`failure` then says which plugin, at which step.
    """

    def __init__(self, host: PluginHost, job: DreamJob, on_step: StepCallback | None) -> None:
        self.host, self.job, self.on_step = host, job, on_step
        self.failure: str | None = None

    def __call__(self, step: int, scores: torch.Tensor) -> None:
        if self.on_step is not None:
            self.on_step(step, scores)
        try:
            self.host.hook.dreamengine_step_end(job=self.job, step=step, scores=scores)
        except Exception as error:
            self.failure = f"{_failed(self.host, 'dreamengine_step_end', error)} at step {step} ({_said(error)})"
            raise _Stop from error


def run_ended(host: PluginHost, config: RunConfig, result: DreamResult, paths: Sequence[Path]) -> None:
    """Call the ``dreamengine_run_end`` hook for a dream whose files (``paths``) are written.

    A plugin that raises is named in a :class:`HookFailed` that says the dream was written.
    """
    try:
        host.hook.dreamengine_run_end(config=config, result=result, paths=list(paths))
    except Exception as error:
        raise HookFailed(f"{_failed(host, 'dreamengine_run_end', error)} ({_said(error)})", result, paths) from None


def culprit(host: PluginHost, hook: str, traceback: TracebackType | None) -> str | None:
    """The name of the plugin whose implementation of ``hook`` is on ``traceback`` (where an error was raised), if
    any."""
    plugins = {_code(impl.function): impl.plugin_name for impl in getattr(host.hook, hook).get_hookimpls()}
    while traceback is not None:
        name = plugins.get(traceback.tb_frame.f_code)
        if name is not None:
            return name
        traceback = traceback.tb_next
    return None


def _failed(host: PluginHost, hook: str, error: BaseException) -> str:
    """``plugin 'x' (its distribution) failed in HOOK``, or ``a plugin failed in HOOK`` when none is found."""
    name = culprit(host, hook, error.__traceback__)
    who = "a plugin" if name is None else f"plugin {name!r} ({host.distribution(name)})"
    return f"{who} failed in {hook}"


def _said(error: BaseException) -> str:
    """``Type: message``, on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _code(function: object) -> object:
    """The code object a hook implementation runs (a method's function's)."""
    return getattr(getattr(function, "__func__", function), "__code__", None)
