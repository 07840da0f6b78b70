"""The registry: every component, model and preset the plugins registered, by name."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from dreamengine.components import Initializer, Objective, Panel, Parametrization, Regularizer, Strategy
from dreamengine.errors import DreamError, unknown_name
from dreamengine.hookspecs import Register, call_one
from dreamengine.options import ComponentSpec, OptionInfo, coerce_options, factory_options

__all__ = ["Entry", "Registry", "KINDS", "singular"]

#: kind -> (registration hook, what the factory must return, or None for presets, models and executors)
KINDS: dict[str, tuple[str, type | None]] = {
    "objectives": ("dreamengine_register_objectives", Objective),
    "regularizers": ("dreamengine_register_regularizers", Regularizer),
    "initializers": ("dreamengine_register_initializers", Initializer),
    "parametrizations": ("dreamengine_register_parametrizations", Parametrization),
    "strategies": ("dreamengine_register_strategies", Strategy),
    "panels": ("dreamengine_register_panels", Panel),
    "models": ("dreamengine_register_models", None),
    "presets": ("dreamengine_register_presets", None),
    "executors": ("dreamengine_register_executors", None),
}


@dataclass(frozen=True)
class Entry:
    """One registered thing: a component factory, a model factory or a preset's settings."""

    kind: str
    name: str
    target: Any
    plugin: str
    summary: str
    options: tuple[OptionInfo, ...] = ()

    @property
    def singular(self) -> str:
        return singular(self.kind)


@dataclass
class Registry:
    """Entries by kind and name; built from a plugin manager by :meth:`build`."""

    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    #: distribution of each plugin, by plugin name, for error messages
    origins: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, pm: pluggy.PluginManager, origins: Mapping[str, str] | None = None) -> Registry:
        """Call every registration hook of ``pm``, one plugin at a time, and collect the entries.

        ``origins`` maps plugin names to their distributions, named in errors.
        """
        registry = cls(origins=origins or {})
        for kind, (hook_name, _) in KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                register = registry.registrar(kind, impl.plugin_name)
                try:
                    call_one(pm, hook_name, impl, register=register)
                except DreamError:
                    raise
                except Exception as error:
                    raise DreamError(
                        f"{registry.describe(impl.plugin_name)} failed in {hook_name}: {type(error).__name__}: {error}"
                    ) from error
        return registry

    def registrar(self, kind: str, plugin: str) -> Register:
        """The ``register`` callback handed to ``plugin``'s registration hook for ``kind``."""

        def register(name: str, target: Any, *, summary: str | None = None) -> None:
            self.add(kind, name, target, plugin=plugin, summary=summary)

        register.__doc__ = f"Register one of the {kind} of plugin {plugin!r}."
        register.__qualname__ = f"register[{plugin}]"  # trace mode shows whose call it is
        return register

    def add(self, kind: str, name: str, target: Any, *, plugin: str, summary: str | None = None) -> None:
        """Add one entry, refusing a name that another plugin already took."""
        if not isinstance(name, str) or not name or any(c in name for c in ":,= "):
            raise DreamError(
                f"plugin {plugin!r} registered an invalid {singular(kind)} name {name!r} "
                "(use letters, digits, '-', '_' or '.')."
            )
        existing = self.entries[kind].get(name)
        if existing is not None:
            raise DreamError(
                f"{singular(kind)} name {name!r} is registered twice: by {self.describe(existing.plugin)} "
                f"and by {self.describe(plugin)}. Uninstall or block one of them "
                f"(DREAMENGINE_BLOCK_PLUGINS={plugin})."
            )
        if kind != "presets" and not callable(target):
            raise DreamError(f"plugin {plugin!r} registered {singular(kind)} {name!r} with a non-callable factory.")
        if kind == "presets" and not isinstance(target, Mapping):
            raise DreamError(f"plugin {plugin!r} registered preset {name!r} with settings that are not a mapping.")
        with_options = KINDS[kind][1] is not None or kind == "executors"
        options = tuple(factory_options(target)) if with_options else ()
        self.entries[kind][name] = Entry(kind, name, target, plugin, summary or _first_line(target), options)

    def describe(self, plugin: str) -> str:
        """``plugin 'name'``, with its distribution when known."""
        origin = self.origins.get(plugin)
        return f"plugin {plugin!r}" + (f" (from {origin})" if origin else "")

    def get(self, kind: str, name: str) -> Entry:
        """Return the entry, or raise an error that suggests the closest name."""
        try:
            return self.entries[kind][name]
        except KeyError:
            raise unknown_name(singular(kind), name, self.entries[kind]) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def find(self, kind: str, pattern: str = "*") -> list[Entry]:
        """Entries of ``kind`` whose name matches the wildcard ``pattern``, sorted by name."""
        return [e for n, e in sorted(self.entries[kind].items()) if fnmatch.fnmatch(n, pattern)]

    def create(self, kind: str, spec: ComponentSpec, extra: Mapping[str, Any] | None = None) -> Any:
        """Build the component ``spec`` names, with its options and any ``extra`` ones (which win)."""
        entry = self.get(kind, spec.name)
        options = coerce_options(
            spec.name, {**spec.named_options(entry.options), **(extra or {})}, entry.options, kind=entry.singular
        )
        try:
            component = entry.target(**options)
        except (ValueError, TypeError) as error:
            raise DreamError(f"{entry.singular} {spec.name!r}: {error}") from error
        expected = KINDS[kind][1]
        if expected is not None and not isinstance(component, expected):
            raise DreamError(
                f"plugin {entry.plugin!r}: {entry.singular} {spec.name!r} built a "
                f"{type(component).__name__}, not an instance of {expected.__name__}."
            )
        if kind == "objectives":  # its text, what str() of it and of the sums it is part of give
            component.spec = str(spec) if not extra else f"{spec}:" + ":".join(f"{k}={v}" for k, v in extra.items())
        return component


def singular(kind: str) -> str:
    """``strategies`` -> ``strategy``, ``objectives`` -> ``objective``."""
    return kind[:-3] + "y" if kind.endswith("ies") else kind[:-1]


def _first_line(target: Any) -> str:
    doc = inspect.getdoc(target) if callable(target) else None
    return doc.strip().splitlines()[0] if doc else ""
