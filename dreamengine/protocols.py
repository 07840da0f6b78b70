"""What the contract knows of the parts above it, as :class:`typing.Protocol`\\ s.

The contract (the top-level modules) imports only the contract, type-only imports included. Where a hook or a
component names something the parts above it make (the model ``engine/`` loads, the loop it runs, the settings
``run/`` reads, the atlas ``atlas/`` reads), it names one of these instead: what a component may use of it, no
more. The parts' own classes match them structurally (:class:`dreamengine.DreamModel` is a :class:`Model`,
:class:`dreamengine.RunConfig` a :class:`Settings`, the atlas's ``Atlas`` an :class:`AtlasView`); nothing here
subclasses or imports them, and this module imports nothing of dreamengine. (The loop a job makes is
:class:`dreamengine.components.Loop`, beside the job and the result it names.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

__all__ = ["Model", "Settings", "AtlasView", "LayerView", "UnitView", "ClassView", "ExampleView"]


class Model(Protocol):
    """A network ready to dream with, as a job holds it and components see it (:class:`dreamengine.DreamModel`).

    It takes an RGB image in [0, 1] and normalises it itself.
    """

    @property
    def name(self) -> str:
        """The name the model was loaded by."""

    @property
    def input_size(self) -> tuple[int, ...]:
        """``(height, width)`` the network was trained at."""

    @property
    def class_names(self) -> list[str]:
        """One name per output class (empty if unknown)."""

    @property
    def has_logits(self) -> bool:
        """Whether the network's output is class logits (``False``: a feature extractor)."""

    @property
    def num_classes(self) -> int:
        """How many classes the network tells apart."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor | None:
        """The logits of ``image`` (``(batch, 3, H, W)`` in [0, 1]), or ``None`` when a capture stopped early."""

    def capture(
        self, names: Sequence[str], *, stop_early: bool = False
    ) -> AbstractContextManager[dict[str, torch.Tensor]]:
        """Within the block, the outputs of the modules ``names``, by name, of each forward."""

    def seen(self, image: torch.Tensor) -> torch.Tensor:
        """An RGB ``image`` in the colours the network sees (its luminance for a grayscale network)."""

    def class_index(self, name: str) -> int:
        """The index of class ``name`` (a class name or synonym, case-insensitive, or an index)."""

    def layer_output(self, name: str, image: torch.Tensor | None = None) -> torch.Tensor:
        """The output of the module ``name`` for ``image`` (default: a gray image of :attr:`input_size`)."""

    def layer_shape(self, name: str) -> tuple[int, ...]:
        """The shape of the module ``name``'s output for one image, channels first, without the batch."""


class Settings(Protocol):
    """The settings of a dream, as a plugin's ``dreamengine_run_end`` sees them (:class:`dreamengine.RunConfig`)."""

    @property
    def model(self) -> str:
        """The model's name."""

    @property
    def objective(self) -> str:
        """The objective, as text."""

    @property
    def steps(self) -> int:
        """The number of gradient steps."""

    @property
    def seed(self) -> int:
        """The seed every random draw comes from."""

    @property
    def output(self) -> str:
        """The folder the dream is written to."""

    def to_dict(self) -> dict[str, Any]:
        """Every setting, as the dream's manifest stores them."""


class ExampleView(Protocol):
    """A dataset image that drives a unit: its name, its activation and its crop (a path in the atlas, or None)."""

    @property
    def image(self) -> str: ...

    @property
    def activation(self) -> float: ...

    @property
    def crop(self) -> str | None: ...

    @property
    def peak(self) -> float | None:
        """The largest value of the unit's map (``None`` for the logits)."""

    @property
    def y(self) -> int | None:
        """The row of the peak in the layer's map."""

    @property
    def x(self) -> int | None:
        """The column of the peak in the layer's map."""

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        """The crop in the image's pixels at the atlas size, ``(left, top, right, bottom)``."""


class LayerView(Protocol):
    """A layer of an atlas: its name in the model, its file-safe slug, its kind (``features``, ``logits``), its
    output's shape and its units."""

    @property
    def name(self) -> str: ...

    @property
    def slug(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def units(self) -> tuple[int, ...]: ...


class ClassView(Protocol):
    """A class of a classifier: its index, its name, and its page (relative to the atlas folder)."""

    @property
    def index(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def page(self) -> str: ...


class UnitView(Protocol):
    """One unit of an atlas, as a :class:`dreamengine.Panel` renders it: its layer and index, its dream (a path in
    the atlas folder, ``None`` until it is dreamt), variants, dataset examples, classes and measured check."""

    @property
    def layer(self) -> LayerView: ...

    @property
    def unit(self) -> int: ...

    @property
    def dream(self) -> str | None: ...

    @property
    def thumb(self) -> str | None: ...

    @property
    def variants(self) -> tuple[str, ...]: ...

    @property
    def activation(self) -> float | None: ...

    @property
    def examples(self) -> Sequence[ExampleView]: ...

    @property
    def negatives(self) -> Sequence[ExampleView]: ...

    @property
    def classes(self) -> tuple[tuple[int, float], ...]:
        """The classes the unit's weights support most, as ``(class index, weight)``."""

    @property
    def check(self) -> Mapping[str, Any]:
        """The measured check: ``best``, ``ratio`` and ``passed``."""

    @property
    def page(self) -> str:
        """The unit's page, relative to the atlas folder."""

    def url(self, path: str) -> str:
        """The link from this unit's page to ``path`` (relative to the atlas folder), percent-encoded."""


class AtlasView(Protocol):
    """An atlas folder, read, as a :class:`dreamengine.Panel` sees it: the folder, the model, the dreams' size
    ``(height, width)``, the layers, the classes and the plan (``atlas.json``: the checkpoint, the settings)."""

    @property
    def folder(self) -> Path: ...

    @property
    def model(self) -> str: ...

    @property
    def size(self) -> tuple[int, int]: ...

    @property
    def layers(self) -> Sequence[LayerView]: ...

    @property
    def classes(self) -> Sequence[ClassView]: ...

    @property
    def plan(self) -> Mapping[str, Any]: ...

    def unit(self, layer_name: str, unit: int) -> UnitView | None:
        """Unit ``unit`` of the layer named ``layer_name``, if the atlas has it."""

    def class_of(self, index: int) -> ClassView | None:
        """The class of index ``index``, if the model has names for its classes."""
