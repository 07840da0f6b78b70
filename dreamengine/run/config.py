"""RunConfig: every setting of a dream run, from defaults, presets, TOML files and stored manifests."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dreamengine.errors import DreamError, unknown_name
from dreamengine.options import split_specs
from dreamengine.run.expression_syntax import ObjectiveSpec
from dreamengine.run.specs import RunSpecs, parse_run_specs

__all__ = ["MAX_SEED", "MAX_STEPS", "MAX_SIZE", "RunConfig", "load_toml", "parse_size", "size_text"]

#: The largest seed: every random source the engine seeds (torch, numpy, training's per-epoch seeds) takes 0 to this.
MAX_SEED = 2**32 - 1
#: The most steps a run takes: thousands of times the default 300, far past where a dream stops changing; a larger
#: number is a slip of the keyboard.
MAX_STEPS = 1_000_000
#: The longest side of a dream in pixels: 8192x8192 is 67 million pixels, under the 89 million at which Pillow
#: warns of a "decompression bomb" when the dream is read back (``--from``, ``info``).
MAX_SIZE = 8192


def _list(*items: str) -> list[str]:
    return field(default_factory=lambda: list(items))


@dataclass
class RunConfig:
    """The settings of one ``dreamengine run``; the keys of a ``--config`` TOML file.

    Component specs use the CLI syntax (``"blur:sigma=0.5"``) and are kept as
    that text, the form stored in each dream's PNG; :attr:`specs` is their
    parsed view, which every consumer reads. ``reg`` and ``strategy`` hold one
    spec each (comma-separated text is split where it comes in). ``options``
    holds extra options by component name (``{"blur": {"sigma": 0.5}}``) and
    wins over options written in the specs. In :meth:`updated`, ``reg`` and
    ``strategy`` specs that start with ``+`` are added to the list there was.

    Code that composes settings may give them as objects: ``objective`` as an
    :class:`~dreamengine.run.expression_syntax.ObjectiveSpec` (built from its
    terms), ``size`` and ``input_size`` as ``(height, width)``; each is kept as
    its text, what a picture stores.
    """

    model: str = "efficientnet-lite0"
    checkpoint: str | None = None
    weights: str | None = None  # a state dict for the architecture `model` names (docs/models.md)
    class_names: str | None = None  # a file of class names, or a dataset folder of class folders
    mean: list[float] | None = None  # None: the model's own normalisation, input size
    std: list[float] | None = None
    input_size: int | str | None = None
    pretrained: bool = False
    classes: list[str] = _list("flamingo")
    objective: str = "logit"
    reg: list[str] = _list("clamp", "blur:sigma=0.5", "flip", "jitter:pixels=8", "scale", "rotate")
    init: str = "gray"
    param: str = "fft:decay=1.25"
    strategy: list[str] = _list("octaves:count=3:scale=1.4")
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: int = 300
    lr: float = 0.05
    optimizer: str = "adam"
    size: int | str | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # None: the command chooses (docs/guide.md, Threads)
    fold_norms: bool = True
    channels_last: bool | None = None  # None: on for the CPU, off elsewhere (measured)
    compile: bool = False
    precision: str = "fp32"
    output: str = "dreams"
    side_by_side: bool = False
    attribution: bool = False
    save_every: int = 0
    animation: str = "gif"
    preset: str | None = None

    def __post_init__(self) -> None:
        """Check and normalise each setting as :meth:`updated` does, so that a script's ``RunConfig`` means what
        the same settings mean in a config file: ``classes="toucan"`` is one class, ``reg="blur,flip"`` two
        regularizers, a path is text, and ``steps="10"`` is an error."""
        for setting in dataclasses.fields(self):
            value = getattr(self, setting.name)
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            setattr(self, setting.name, _normalise(setting.name, value, "RunConfig"))
        self.specs  # noqa: B018 (parsed now: a malformed spec is an error where the settings come in, not later)

    @property
    def specs(self) -> RunSpecs:
        """The component settings parsed (cached by their text, so never stale when a setting changes)."""
        return parse_run_specs(self.objective, tuple(self.reg), self.init, self.param, tuple(self.strategy))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def updated(self, settings: Mapping[str, Any], source: str) -> RunConfig:
        """Return a copy with ``settings`` applied; unknown keys are an error naming ``source``."""
        known = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for key, value in settings.items():
            key = key.replace("-", "_")
            if key == "class":
                key = "classes"
            if key not in known:
                raise DreamError(f"{source}: {unknown_name('setting', key, known)}")
            changes[key] = _normalise(key, value, source)
            if key in ("reg", "strategy"):
                changes[key] = _with_additions(getattr(self, key), changes[key], f"setting {key!r} in {source}")
        if "options" in changes:
            changes["options"] = _merge_options(self.options, changes["options"])
        return dataclasses.replace(self, **changes)


_SCALAR_TYPES: dict[str, type[Any]] = {
    "steps": int,
    "seed": int,
    "threads": int,
    "save_every": int,
    "lr": float,
    "pretrained": bool,
    "side_by_side": bool,
    "attribution": bool,
    "fold_norms": bool,
    "channels_last": bool,
    "compile": bool,
}


def size_text(size: tuple[int, int]) -> str:
    """The text of a ``(height, width)`` size, as :func:`parse_size` reads it: ``N`` when square, else
    ``WIDTHxHEIGHT``."""
    height, width = size
    return str(width) if width == height else f"{width}x{height}"


def parse_size(value: int | str | None) -> tuple[int, int] | None:
    """``(height, width)`` of a size setting: ``N`` (square) or ``WIDTHxHEIGHT``; ``None`` stays ``None``."""
    if value is None:
        return None
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+)(?:x(\d+))?", text)
    if isinstance(value, bool) or not match:
        raise DreamError(f"size must be N (square) or WIDTHxHEIGHT, as in 2048x1536; got {value!r}.")
    width, height = int(match.group(1)), int(match.group(2) or match.group(1))
    if max(width, height) > MAX_SIZE:
        raise DreamError(
            f"size must be at most {MAX_SIZE} pixels a side (at that size a dream's image, gradient and optimizer "
            f"state alone take 3 GiB, tiled or not); got {value!r}."
        )
    return (height, width)


_EXAMPLES = {"reg": "['clamp', 'blur:sigma=0.5']", "strategy": "['octaves:count=3']"}


def _normalise(key: str, value: Any, source: str) -> Any:
    if key == "objective" and isinstance(value, ObjectiveSpec):
        return value.text
    if key in ("size", "input_size") and isinstance(value, tuple):
        value = size_text(value)
    if key in ("size", "input_size"):
        parse_size(value)
        return int(value) if value is not None and str(value).strip().isdigit() else value
    if key in ("mean", "std"):
        return _numbers(key, value, source)
    kind = _SCALAR_TYPES.get(key, str if key not in ("classes", "reg", "strategy", "options") else None)
    if kind is not None and value is not None:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DreamError(f"setting {key!r} in {source} must be {kind.__name__}, got {value!r}.")
        if key == "seed" and not 0 <= value <= MAX_SEED:
            raise DreamError(f"setting 'seed' in {source} must be 0 to {MAX_SEED}, got {value}.")
        if key == "steps" and value > MAX_STEPS:
            raise DreamError(f"setting 'steps' in {source} must be at most {MAX_STEPS:,}, got {value:,}.")
        return value
    if key in ("classes", "reg", "strategy"):
        return _normalise_list(key, value, source)
    if key == "options" and not (isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values())):
        raise DreamError(f"'options' in {source} must be a table of tables, as in [options.blur] sigma = 0.5.")
    return value


def _numbers(key: str, value: Any, source: str) -> list[float] | None:
    """``mean`` or ``std``: one number per channel of the network's input, as a list or comma-separated text
    (``"0.5,0.5,0.5"``); ``std`` above 0."""
    if value is None:
        return None
    given = value.split(",") if isinstance(value, str) else value
    try:
        numbers = [float(v) for v in given if not isinstance(v, bool)] if isinstance(given, (list, tuple)) else []
    except (TypeError, ValueError):
        numbers = []
    finite = all(math.isfinite(v) for v in numbers)
    if not numbers or len(numbers) != len(given) or not finite or (key == "std" and min(numbers) <= 0):
        raise DreamError(
            f"setting {key!r} in {source} must be one number per input channel, as in 0.5,0.5,0.5"
            + (", each above 0" if key == "std" else "")
            + f"; got {value!r}."
        )
    return numbers


def _normalise_list(key: str, value: Any, source: str) -> list[str]:
    """``classes``, ``reg`` or ``strategy`` as a list of text: one class name, or comma-separated specs, may be
    given bare; a list must hold text (``classes`` also indices), and ``classes`` at least one. Specs are
    split at their commas, one spec each; an empty one is an error."""
    if isinstance(value, str):
        value = [value]
    if key == "classes":
        if not value or not _is_list_of(value, (str, int)):
            raise DreamError(
                f"setting 'classes' in {source} must list one class or more, by name or index; got {value!r}."
            )
        return [str(v) for v in value]
    if not _is_list_of(value, str):
        raise DreamError(
            f"setting {key!r} in {source} must list component specs as text, as in {_EXAMPLES[key]}; got {value!r}."
        )
    try:
        return [spec for text in value for spec in split_specs(text)]
    except DreamError as error:
        raise DreamError(f"setting {key!r} in {source}: {error}") from None


def _is_list_of(value: Any, kinds: tuple[type, ...] | type) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, kinds) and not isinstance(v, bool) for v in value)


def _with_additions(earlier: list[str], specs: list[str], where: str) -> list[str]:
    """A new ``reg`` or ``strategy`` list: ``specs``, or, for those that start with ``+``, ``earlier`` with them
    added at the end (``+mask:path=sky.png`` adds a mask to the default regularizers or a preset's)."""
    added = [spec.strip()[1:].strip() for spec in specs if spec.strip().startswith("+")]
    if not all(added):
        raise DreamError(f"a '+' with nothing after it ({where}): write '+' and a spec, as in '+mask:path=sky.png'.")
    given = [spec for spec in specs if not spec.strip().startswith("+")]
    return (given if given or not added else list(earlier)) + added


def _merge_options(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    merged = {name: dict(values) for name, values in old.items()}
    for name, values in new.items():
        merged.setdefault(name, {}).update(values)
    return merged


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a ``--config`` TOML file, with a clear error when it is missing or malformed."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise DreamError(f"config file {str(path)!r} does not exist.") from None
    except tomllib.TOMLDecodeError as error:
        raise DreamError(f"config file {str(path)!r} is not valid TOML: {error}.") from None
    except UnicodeDecodeError:
        raise DreamError(f"config file {str(path)!r} is not valid TOML: it is not UTF-8 text.") from None
