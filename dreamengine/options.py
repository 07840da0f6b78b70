"""Component specs and their options, as typed on the command line.

A spec names a component and, optionally, its options::

    blur                      # defaults
    blur:sigma=0.8            # one option
    blur:0.8                  # the same: positional values fill the options in order
    layer:blocks.5:12         # layer=blocks.5, channel=12
    gradient:start=red:end=#0040ff:angle=45
    clamp,blur:sigma=0.5,flip # a list of specs, comma-separated

Positional values come before any ``key=value``. Option values are text until
:func:`coerce_options` parses them by the annotations of the component
factory's keyword parameters.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dreamengine.errors import DreamError, unknown_name

__all__ = [
    "ComponentSpec",
    "OptionInfo",
    "parse_spec",
    "parse_spec_list",
    "split_specs",
    "is_none",
    "parse_assignment",
    "factory_options",
    "coerce_options",
]

_SIMPLE_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class ComponentSpec:
    """A component name and the options the user gave it (values may still be text)."""

    name: str
    options: Mapping[str, Any]
    positional: tuple[str, ...] = ()

    def __str__(self) -> str:
        return ":".join([self.name, *self.positional, *(f"{k}={v}" for k, v in self.options.items())])

    def named_options(self, infos: Iterable[OptionInfo]) -> dict[str, Any]:
        """The options by name: positional values fill ``infos`` in order, then the ``key=value`` ones."""
        infos = list(infos)
        if len(self.positional) > len(infos):
            raise DreamError(
                f"{self.name!r} takes {len(infos)} option(s) "
                f"({', '.join(i.name for i in infos) or 'none'}), got {len(self.positional)} "
                f"positional value(s) in {str(self)!r}."
            )
        named = {info.name: value for info, value in zip(infos, self.positional)}
        twice = [key for key in self.options if key in named]
        if twice:
            raise DreamError(f"option {twice[0]!r} of {self.name!r} is given twice in {str(self)!r}.")
        return {**named, **self.options}


@dataclass(frozen=True)
class OptionInfo:
    """One option of a component: its name, type and default (``inspect.Parameter.empty`` if required)."""

    name: str
    type: type
    default: Any
    optional: bool = False

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def describe(self) -> str:
        kind = self.type.__name__ + (" | None" if self.optional else "")
        return f"{self.name}: {kind}" + ("" if self.required else f" = {self.default!r}")


def parse_spec(text: str) -> ComponentSpec:
    """Parse ``name:key=value:key=value`` into a :class:`ComponentSpec`."""
    name, *pairs = text.strip().split(":")
    if not name:
        raise DreamError(f"malformed component spec {text!r}: it must start with a name, as in 'blur:sigma=0.5'.")
    options: dict[str, str] = {}
    positional: list[str] = []
    for pair in pairs:
        if "=" not in pair and not options:
            if not pair.strip():
                raise DreamError(f"malformed component spec {text!r}: an empty option between ':'s.")
            positional.append(pair.strip())
            continue
        key, value = _split_pair(pair, text)
        if key in options:
            raise DreamError(f"option {key!r} of {name.strip()!r} is given twice in {text.strip()!r}.")
        options[key] = value
    return ComponentSpec(name.strip(), types.MappingProxyType(options), tuple(positional))


def split_specs(text: str) -> list[str]:
    """The specs of comma-separated ``text``, each stripped (``'none'`` stays one); blank text holds none.

    The one place a list of specs is split: an empty spec between commas (``',,'``) is an error, not a
    silent nothing.
    """
    if not text.strip():
        return []
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise DreamError(
            f"an empty component spec in {text!r} (between commas, or at an end): "
            "write the specs with one comma between each, or 'none' for none."
        )
    return parts


def is_none(text: str) -> bool:
    """Whether a spec's text is ``none``: no component."""
    return text.strip().lower() == "none"


def parse_spec_list(texts: str | Iterable[str]) -> list[ComponentSpec]:
    """Parse comma-separated specs (a string or several strings); 'none' or '' gives an empty list."""
    if isinstance(texts, str):
        texts = [texts]
    return [parse_spec(part) for text in texts for part in split_specs(text) if not is_none(part)]


def parse_assignment(text: str) -> tuple[str, str, str]:
    """Parse ``component.option=value`` (from ``--set``) into its three parts."""
    target, eq, value = text.partition("=")
    component, dot, option = target.strip().rpartition(".")
    if not eq or not dot or not component or not option:
        raise DreamError(f"malformed --set {text!r}: write COMPONENT.OPTION=VALUE, as in 'blur.sigma=0.8'.")
    return component, option, value.strip()


def _split_pair(pair: str, context: str) -> tuple[str, str]:
    key, eq, value = pair.partition("=")
    if not eq or not key.strip():
        raise DreamError(
            f"malformed option {pair!r} in {context!r}: write KEY=VALUE, as in 'blur:sigma=0.5' "
            "(values without a key come first)."
        )
    return key.strip(), value.strip()


def factory_options(factory: Callable[..., object]) -> list[OptionInfo]:
    """List the options a component factory takes, from its signature."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    hints = typing.get_type_hints(target)
    options = []
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        kind, optional = _simple_type(hints.get(parameter.name, str), parameter.name, factory)
        options.append(OptionInfo(parameter.name, kind, parameter.default, optional))
    return options


def _simple_type(hint: Any, name: str, factory: Callable[..., object]) -> tuple[type, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and rest[0] in _SIMPLE_TYPES:
            return rest[0], True
    if hint in _SIMPLE_TYPES:
        return hint, False
    raise TypeError(f"option {name!r} of {factory!r} must be annotated bool, int, float or str (optionally | None)")


def coerce_options(
    component: str, options: Mapping[str, Any], infos: Iterable[OptionInfo], kind: str = ""
) -> dict[str, Any]:
    """Check ``options`` against a component's options and convert text values to their types.

    ``kind`` (``"initializer"``, ...) names what the component is in the error for a missing option.
    """
    by_name = {info.name: info for info in infos}
    result = {}
    for key, value in options.items():
        if key not in by_name:
            error = unknown_name(f"option of {component!r}", key, by_name)
            if not by_name:
                error = DreamError(f"{component!r} takes no options (got {key!r}).")
            raise error
        result[key] = _coerce(component, by_name[key], value)
    missing = [i.name for i in by_name.values() if i.required and i.name not in result]
    if missing:
        raise DreamError(
            f"{kind + ' ' if kind else ''}{component!r} needs option(s) {', '.join(missing)}, "
            f"as in '{component}:{missing[0]}=...'."
        )
    return result


def _coerce(component: str, info: OptionInfo, value: Any) -> Any:
    if info.optional and (value is None or (isinstance(value, str) and value.lower() in ("none", ""))):
        return None
    if isinstance(value, str):
        try:
            value = _from_text(info.type, value)
        except ValueError:
            pass
    if isinstance(value, info.type) or (info.type is float and isinstance(value, int) and not isinstance(value, bool)):
        value = info.type(value)
        if info.type is not float or math.isfinite(value):
            return value
        raise DreamError(f"option {info.name!r} of {component!r} must be a finite number, got {value!r}.")
    raise DreamError(f"option {info.name!r} of {component!r} must be {info.type.__name__}, got {value!r}.")


def _from_text(kind: type, text: str) -> Any:
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    return kind(text)
