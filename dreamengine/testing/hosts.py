"""Fresh plugin hosts with the plugins under test registered."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dreamengine.errors import DreamError
from dreamengine.plugins import BUILTIN_PLUGINS, PluginHost, _register, load_plugins

__all__ = ["make_host", "plugin_host"]


def make_host(*plugins: object, builtins: bool = True) -> PluginHost:
    """A fresh plugin host with ``plugins`` (modules or objects) registered; no entry points.

    A module is registered under its ``__name__``, any other object under its
    class's name (``Observer``, then ``Observer-2``, ...). ``builtins=False`` leaves out the built-in
    components, models and presets (the core's default loop stays). A plugin
    with a misspelt hook or a hook with wrong arguments raises
    :class:`dreamengine.DreamError` with the same message users would see.
    """
    blocked = () if builtins else _builtin_names()
    host = load_plugins(entry_points=False, blocked=blocked, trace=False)
    for plugin in plugins:
        name = _name(host, plugin)
        _register(host, plugin, name, "the plugin under test", builtin=False)
        if host.failures:
            raise DreamError(f"plugin {name!r} {host.failures[0].message}")
    return host


@contextlib.contextmanager
def plugin_host(*plugins: object, builtins: bool = True) -> Iterator[PluginHost]:
    """:func:`make_host` as a context manager that unregisters ``plugins`` afterwards."""
    host = make_host(*plugins, builtins=builtins)
    try:
        yield host
    finally:
        for plugin in plugins:
            if host.pm.is_registered(plugin):
                host.pm.unregister(plugin)


def _builtin_names() -> tuple[str, ...]:
    return tuple(name for name in BUILTIN_PLUGINS if name != "dreamengine.engine.loop")


def _name(host: PluginHost, plugin: object) -> str:
    base = getattr(plugin, "__name__", None) or type(plugin).__name__
    name, count = base, 1
    while host.pm.has_plugin(name):
        count += 1
        name = f"{base}-{count}"
    return name
