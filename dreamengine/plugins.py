"""Finding and loading plugins: the built-ins, then the ``dreamengine`` entry-point group.

Environment switches (also honoured by the CLI; an argument given to :func:`load_plugins` wins over them):

* ``DREAMENGINE_NO_ENTRYPOINTS=1`` -- load only the built-in plugins.
* ``DREAMENGINE_BLOCK_PLUGINS=name,name`` -- never load the named plugins.
* ``DREAMENGINE_TRACE=1`` -- print every hook call to standard error.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pluggy

from dreamengine import hookspecs
from dreamengine.errors import DreamError, unknown_name

if TYPE_CHECKING:
    from dreamengine.registry import Registry

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "PluginInfo", "PluginFailure", "PluginHost", "load_plugins"]

ENTRY_POINT_GROUP = "dreamengine"

#: Modules registered by name before any entry point, so they load with autoloading off.
BUILTIN_PLUGINS = (
    "dreamengine.engine.loop",
    "dreamengine.run.executors",
    "dreamengine_builtins.objectives",
    "dreamengine_builtins.pictures",
    "dreamengine_builtins.direction",
    "dreamengine_builtins.projections",
    "dreamengine_builtins.transforms",
    "dreamengine_builtins.penalties",
    "dreamengine_builtins.gradients",
    "dreamengine_builtins.mask",
    "dreamengine_builtins.initializers",
    "dreamengine_builtins.parametrizations",
    "dreamengine_builtins.octaves",
    "dreamengine_builtins.tiling",
    "dreamengine_builtins.crops",
    "dreamengine_builtins.zoom",
    "dreamengine_builtins.models",
    "dreamengine_builtins.torchvision_models",
    "dreamengine_builtins.presets",
    "dreamengine_builtins.panels",
)


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its name, where it comes from and which hooks it implements."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    builtin: bool


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, with what to do about it."""

    name: str
    distribution: str
    message: str
    details: str = ""


@dataclass
class PluginHost:
    """The plugin manager with what was loaded, what failed, and the registry built from it.

    ``entry_points`` and ``blocked`` are the choices it was loaded with, so that
    another process (a Ray worker) can load the same plugins.
    """

    pm: pluggy.PluginManager
    infos: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    entry_points: bool = True
    blocked: tuple[str, ...] = ()

    @functools.cached_property
    def registry(self) -> Registry:
        """Every component, model and preset the plugins registered (built on first use)."""
        # Imported here, not at the top: the registry checks components against their classes, which import
        # torch, and the command line loads plugins (for their commands) before it knows it needs torch.
        from dreamengine.registry import Registry

        return Registry.build(self.pm, {info.name: info.distribution for info in self.infos})

    def distribution(self, plugin: str) -> str:
        """The distribution a loaded plugin comes from."""
        return next((info.distribution for info in self.infos if info.name == plugin), "unknown distribution")

    @property
    def hook(self) -> pluggy.HookRelay:
        """The hooks, to call: ``host.hook.dreamengine_run_end(config=..., result=..., paths=...)``."""
        return self.pm.hook


def load_plugins(
    *,
    entry_points: bool | None = None,
    blocked: Iterable[str] | None = None,
    trace: bool | None = None,
    builtins: bool = True,
) -> PluginHost:
    """Create a plugin manager with the hook specs, the built-ins and the installed plugins.

    Arguments left as ``None`` are read from the environment (see module docstring).
    ``builtins=False`` loads the entry-point plugins alone: the command line does
    so to add their commands, without the built-ins, which import torch.
    """
    env = os.environ
    if entry_points is None:
        entry_points = env.get("DREAMENGINE_NO_ENTRYPOINTS", "") in ("", "0")
    if blocked is None:
        blocked = env.get("DREAMENGINE_BLOCK_PLUGINS", "").split(",")
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm, entry_points=entry_points, blocked=tuple(b.strip() for b in blocked if b.strip()))
    for name in host.blocked:
        pm.set_blocked(name)
    if trace if trace is not None else env.get("DREAMENGINE_TRACE", "") not in ("", "0"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    for module_name in BUILTIN_PLUGINS if builtins else ():
        if not pm.is_blocked(module_name):
            _register(host, importlib.import_module(module_name), module_name, "dreamengine", builtin=True)
    if entry_points:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            _load_entry_point(host, entry_point)
    return host


def _load_entry_point(host: PluginHost, entry_point: importlib.metadata.EntryPoint) -> None:
    dist = entry_point.dist.name if entry_point.dist else "unknown distribution"
    if host.pm.is_blocked(entry_point.name) or host.pm.has_plugin(entry_point.name):
        return
    try:
        plugin = entry_point.load()
    except Exception as error:
        host.failures.append(
            PluginFailure(
                entry_point.name,
                dist,
                f"could not be imported ({type(error).__name__}: {error}); reinstall or upgrade {dist}, "
                f"or block it with DREAMENGINE_BLOCK_PLUGINS={entry_point.name}",
                traceback.format_exc(),
            )
        )
        return
    _register(host, plugin, entry_point.name, dist, builtin=False)


def _register(host: PluginHost, plugin: object, name: str, dist: str, *, builtin: bool) -> None:
    pm = host.pm
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        if builtin:
            raise
        host.failures.append(
            PluginFailure(
                name,
                dist,
                f"has a hook with wrong arguments: {error}; "
                f"fix the plugin or block it with DREAMENGINE_BLOCK_PLUGINS={name}",
            )
        )
        return
    unknown = [caller.name for caller in pm.get_hookcallers(plugin) or () if caller.spec is None]
    if unknown:
        pm.unregister(plugin)
        reason = str(unknown_name("hook", unknown[0], hookspecs.hook_names(), show=0))
        message = f"implements a hook that does not exist: {reason}"
        if builtin:
            raise DreamError(f"plugin {name!r} {message}")
        host.failures.append(
            PluginFailure(name, dist, message + f" Fix the plugin or block it with DREAMENGINE_BLOCK_PLUGINS={name}")
        )
        return
    hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
    host.infos.append(PluginInfo(name, dist, _version(dist), hooks, builtin))


@functools.cache  # the built-ins share one distribution: look its version up once
def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
