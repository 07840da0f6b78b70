"""Old import paths of the modules the regroup moved, kept working with a :class:`DeprecationWarning`.

The first release kept the core in one flat package (``dreamengine.config``, ``dreamengine.dreaming``, ...). Its
modules now live in sub-packages (:mod:`dreamengine.run`, :mod:`dreamengine.engine`, ...). Three kinds of old path
are kept:

- a module moved whole (``dreamengine.config``) is an alias: importing it warns once and gives the new module itself;
- a module split in parts (``dreamengine.dreaming``, and the built-ins' ``dreamengine_builtins.regularizers``, now
  ``projections`` and ``transforms``) is a stand-in whose names warn, each naming where it lives now;
- a module that became a package of the same name (``dreamengine.engine``) answers its old names the same way, through
  the package's ``__getattr__`` (:func:`package_getattr`).

Nothing here imports the moved modules until an old path is used, so installing the finder costs no torch import.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

__all__ = ["MOVED_MODULES", "SPLIT_MODULES", "MOVED_NAMES", "install", "is_old_module", "package_getattr"]

#: Old modules moved whole: old path -> new path.
MOVED_MODULES: dict[str, str] = {
    "dreamengine.model": "dreamengine.engine.model",
    "dreamengine.folding": "dreamengine.engine.folding",
    "dreamengine.layers": "dreamengine.engine.layers",
    "dreamengine.checkpoint": "dreamengine.engine.checkpoint",
    "dreamengine.classes": "dreamengine.engine.classes",
    "dreamengine.config": "dreamengine.run.config",
    "dreamengine.expressions": "dreamengine.run.expressions",
    "dreamengine.batch": "dreamengine.run.batch",
    "dreamengine.outputs": "dreamengine.run.outputs",
    "dreamengine.recipe": "dreamengine.run.recipe",
    "dreamengine.inputs": "dreamengine.run.inputs",
    "dreamengine.imaging": "dreamengine.run.imaging",
    "dreamengine.acceleration": "dreamengine.run.acceleration",
    "dreamengine.ray_executor": "dreamengine.study.ray_executor",
    "dreamengine.sheets": "dreamengine.study.sheets",
    "dreamengine.gallery": "dreamengine.study.gallery",
    "dreamengine.demo_data": "dreamengine.training.demo_data",
    "dreamengine.imagefolder": "dreamengine.training.imagefolder",
    "dreamengine.evaluation": "dreamengine.analysis.evaluation",
    "dreamengine.directions": "dreamengine.analysis.directions",
    "dreamengine.montage": "dreamengine.analysis.montage",
}


def _names(module: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, module)


#: Old modules split in parts (they are stand-ins now): old path -> {old public name: module it lives in now}.
SPLIT_MODULES: dict[str, dict[str, str]] = {
    "dreamengine.dreaming": {
        **_names(
            "dreamengine.run.prepare",
            "PreparedRun",
            "resolve_device",
            "load_architecture",
            "load_model",
            "apply_preset",
            "build_components",
            "build_job",
            "prepare",
        ),
        **_names("dreamengine.run.execute", "RunOutcome", "run_through_hooks", "total_steps", "execute", "dream"),
    },
    "dreamengine.executors": {
        **_names("dreamengine.study.executors", "EXECUTORS", "Finished", "Executor", "LocalExecutor"),
        "make_executor": "dreamengine.study.runner",
    },
    # the built-ins' regularizers, regrouped by what they do: projections, transforms (and penalties, unchanged)
    "dreamengine_builtins.regularizers": {
        **_names("dreamengine_builtins.projections", "RGB_TO_YCC", "YCC_TO_RGB", "Clamp", "Blur", "ChromaBlur"),
        **_names("dreamengine_builtins.transforms", "Flip", "Jitter"),
    },
}

#: Old modules that are packages of the same name now: package -> {old public name: module it lives in now}.
MOVED_NAMES: dict[str, dict[str, str]] = {
    "dreamengine.engine": {
        **_names("dreamengine.components", "DreamJob", "DreamResult"),
        **_names(
            "dreamengine.engine.loop",
            "OPTIMIZERS",
            "PixelParametrization",
            "divergence_message",
            "run_job",
            "run_steps",
        ),
        **_names("dreamengine.engine.phases", "filter_gradient", "regularizers_by_phase"),
    },
    "dreamengine.study": {
        **_names(
            "dreamengine.study.plan",
            "REPORT_STEPS",
            "Checkpoint",
            "Cell",
            "Task",
            "StudyPlan",
            "find_checkpoints",
            "blur_specs",
            "plan_study",
        ),
        **_names("dreamengine.study.render", "dream_task", "CellOutput", "render_task", "write_cell"),
        **_names("dreamengine.study.runner", "run_study", "same_dreams"),
    },
    "dreamengine.training": _names(
        "dreamengine.training.fine_tune",
        "TrainSettings",
        "EpochReport",
        "TrainCallbacks",
        "train",
        "checkpoints_in",
        "create_model",
    ),
}


def _stacklevel() -> int:
    """The ``warnings.warn`` stack level of the first frame outside this package's shims and ``importlib``.

    The warning then points at the user's import line, which is also what makes Python show it by default (a
    :class:`DeprecationWarning` is shown when it is attributed to ``__main__``). Frames of the import system's
    bootstrap are not counted: ``warnings`` skips them itself.
    """
    shims = {__file__, str(Path(__file__).with_name("__init__.py")), importlib.__file__}
    frame: FrameType | None = sys._getframe(2)  # the caller of _warn: stack level 2 of the warn in _warn
    level = 2
    while frame is not None and (_bootstrap(frame) or frame.f_code.co_filename in shims):
        level += not _bootstrap(frame)
        frame = frame.f_back
    return level


def _bootstrap(frame: FrameType) -> bool:
    """Whether ``frame`` runs the import system's own code (as :mod:`warnings` tells it)."""
    return "importlib" in frame.f_code.co_filename and "_bootstrap" in frame.f_code.co_filename


def _warn(message: str) -> None:
    warnings.warn(message, DeprecationWarning, stacklevel=_stacklevel())


def _moved_name(old: str, name: str, new: str) -> Any:
    """Warn that ``old.name`` is ``new.name`` now, and give it."""
    _warn(f"{old}.{name} has moved: import it from {new} ({old} will stop providing it)")
    return getattr(importlib.import_module(new), name)


def package_getattr(package: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that answers the names its old flat module had, with a warning.

    Example (in ``dreamengine/engine/__init__.py``)::

        __getattr__ = package_getattr(__name__)
    """
    moved = MOVED_NAMES[package]

    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return _moved_name(package, name, moved[name])

    return __getattr__


class _AliasLoader(importlib.abc.Loader):
    """Loads an old path as the module it moved to (the import system takes what the loader leaves in sys.modules)."""

    def __init__(self, new: str) -> None:
        self.new = new

    def exec_module(self, module: ModuleType) -> None:
        _warn(f"{module.__name__} has moved to {self.new}: import it from there ({module.__name__} will be removed)")
        sys.modules[module.__name__] = importlib.import_module(self.new)


class _SplitLoader(importlib.abc.Loader):
    """Loads an old path that was split in parts as a stand-in module whose names warn and point to their new home."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def exec_module(self, module: ModuleType) -> None:
        old, names = module.__name__, self.names

        def __getattr__(name: str) -> Any:
            if name not in names:
                raise AttributeError(f"module {old!r} has no attribute {name!r}")
            return _moved_name(old, name, names[name])

        parts = ", ".join(sorted(set(names.values())))
        module.__doc__ = f"Deprecated: {old} was split into {parts}."
        module.__dict__.update(__getattr__=__getattr__, __all__=list(names), __dir__=lambda: sorted(names))


class _MovedFinder(importlib.abc.MetaPathFinder):
    """A meta path finder for the old paths of moved modules; it comes last, so a real module always wins."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """A spec for an old path, or None for any other module."""
        if fullname in MOVED_MODULES:
            return ModuleSpec(fullname, _AliasLoader(MOVED_MODULES[fullname]))
        if fullname in SPLIT_MODULES:
            return ModuleSpec(fullname, _SplitLoader(SPLIT_MODULES[fullname]))
        return None


def is_old_module(path: str) -> bool:
    """Whether ``path`` is the old path of a module that moved whole or was split."""
    return path in MOVED_MODULES or path in SPLIT_MODULES


def install() -> None:
    """Make the old paths importable (once; the facade calls it)."""
    if not any(type(finder).__name__ == _MovedFinder.__name__ for finder in sys.meta_path):  # (once, even reloaded)
        sys.meta_path.append(_MovedFinder())
