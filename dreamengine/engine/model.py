"""DreamModel: a frozen classifier with its normalisation, input size and class names."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dreamengine.engine.classes import resolve_class
from dreamengine.engine.folding import FoldedPair, fold_norms
from dreamengine.engine.rectifiers import output_rectifiers, redirected
from dreamengine.engine.weights import WeightsFile
from dreamengine.errors import DreamError, unknown_name

__all__ = ["DreamModel", "channels_first"]

#: The longest side of the picture the norm-folding check runs on. Which pairs fold does not depend on the size
#: (the folded weights never do), but the check's three forwards cost a quarter at 112 what they cost at 224:
#: about 0.8 s less before a default dream's first step on one CPU thread.
FOLD_CHECK_SIDE = 112


#: The weights of red, green and blue in a picture's luminance, what a grayscale network sees.
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


class _ForwardDone(Exception):
    """Raised by a capture hook once every layer an objective needs has run; ends the forward early."""


class DreamModel(nn.Module):
    """A network ready to dream with.

    The forward takes an RGB image in [0, 1] and normalises it itself, so
    nothing outside the model ever sees normalised values.

    Args:
        net: the classifier; its output is ``(batch, classes)`` logits.
        name: the name the model was loaded by (kept in each dream's manifest).
        mean, std: per-channel normalisation the network was trained with.
        input_size: ``(height, width)`` the network was trained at.
        class_names: one name per output class (may be empty if unknown).
        fixed_size: the network takes pictures of ``input_size`` only (a vision transformer's patch grid): the
            forward resizes any other image to it (bilinear, antialiased, differentiable), so octaves, tiles
            and photos of any shape still dream with it.

    Attributes:
        autocast: a dtype (``torch.bfloat16``) to run the network under
            ``torch.autocast`` on the input's device; ``None`` (the default):
            full float32. Logits and captured layer outputs are float32 either way.
        has_logits: whether the network's output is class logits; ``False`` for a feature extractor, which
            dreams layers, channels and neurons only.
        weights: the file the weights were loaded from (its name and SHA-256 go into each dream's settings), if any.
    """

    autocast: torch.dtype | None = None
    has_logits: bool = True
    weights: WeightsFile | None = None
    mean: torch.Tensor  # buffers, shaped (1, channels, 1, 1)
    std: torch.Tensor

    def __init__(
        self,
        net: nn.Module,
        *,
        name: str,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
        input_size: tuple[int, int] = (224, 224),
        class_names: Sequence[str] = (),
        fixed_size: bool = False,
    ) -> None:
        super().__init__()
        self.net = net
        self.name = name
        self.input_size = tuple(input_size)
        self.class_names = list(class_names)
        self.fixed_size = fixed_size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self._folded: list[FoldedPair] | None = None
        self._folding = nn.ModuleList()  # both versions of each folded pair, so that .to() moves them all
        self._shapes: dict[str, tuple[int, ...]] = {}  # layer_shape's, by layer name
        self._rectifiers: dict[str, list[nn.Module]] = {}  # the rectifiers making each captured layer's output
        self._logits: int | None = None  # _logit_count's

    def forward(self, image: torch.Tensor) -> torch.Tensor | None:
        """The logits, or ``None`` if a :meth:`capture` with ``stop_early`` ended the forward."""
        precision = (
            torch.autocast(image.device.type, dtype=self.autocast)
            if self.autocast is not None
            else contextlib.nullcontext()
        )
        if self.fixed_size and tuple(image.shape[-2:]) != self.input_size:
            image = F.interpolate(image, size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        try:
            with precision:
                logits: torch.Tensor = _float(self.net(self.normalise(image)))
                return logits
        except _ForwardDone:
            return None

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """What the network sees of an RGB ``image`` in [0, 1]: normalised with :attr:`mean` and :attr:`std`, and,
        for a network of one input channel (grayscale), its luminance (ITU-R 601, as Pillow's ``L``)."""
        if self.mean.shape[1] == 1 and image.shape[1] == 3:
            image = (image * _LUMA.to(image.device, image.dtype)).sum(1, keepdim=True)
        return (image - self.mean) / self.std

    def seen(self, image: torch.Tensor) -> torch.Tensor:
        """An RGB ``image`` (``(..., 3, H, W)``) in the colours the network sees: its luminance in every channel for
        a grayscale network (what its dreams are shown and saved as), else as it is."""
        if self.mean.shape[1] != 1:
            return image
        luma = (image * _LUMA.to(image.device, image.dtype).view(3, 1, 1)).sum(-3, keepdim=True)
        return luma.expand_as(image).contiguous()

    def freeze(self) -> DreamModel:
        """Put the model in eval mode with every parameter frozen; returns self."""
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> DreamModel:
        """Set training mode (``mode=True`` first unfolds the batch norms for good: training needs them)."""
        if mode:
            self.unfold_norms()
        return super().train(mode)

    def fold_norms(self) -> DreamModel:
        """Fold each batch norm into the convolution that feeds it, where that is safe; returns self.

        The same network, faster (see :mod:`dreamengine.engine.folding`); for a frozen
        model in eval mode, and done once. Every layer keeps its name; a
        :meth:`capture` of a folded convolution sees its original output, and
        :meth:`train`, :meth:`load_weights` and checkpoints see the original
        network.
        """
        if self.training:
            raise DreamError("fold_norms() needs a model in eval mode (call freeze() first).")
        if self._folded is None:
            size = self.input_size if self.fixed_size else [min(side, FOLD_CHECK_SIDE) for side in self.input_size]
            example = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0), device="cpu")
            example = example.to(self.mean.device)  # drawn on the CPU, so it is the same input on every device
            self._folded = fold_norms(self.net, self.normalise(example), f"model {self.name!r}")
            self._folding = nn.ModuleList(m for pair in self._folded for m in (*pair.original, *pair.folded))
        return self

    @contextlib.contextmanager
    def unfolded(self, layers: Collection[str] | None = None) -> Iterator[None]:
        """While active, the folded convolutions named in ``layers`` (all if ``None``) run unfolded, with their
        norms."""
        pairs = [pair for pair in self._folded or () if pair.is_folded and (layers is None or pair.path in layers)]
        for pair in pairs:
            pair.use(folded=False)
        try:
            yield
        finally:
            for pair in pairs:
                pair.use(folded=True)

    def unfold_norms(self) -> DreamModel:
        """Undo :meth:`fold_norms` (if done): the network as built again; returns self."""
        for pair in self._folded or ():
            pair.use(folded=False)
        self._folded = None
        self._folding = nn.ModuleList()
        return self

    def layer(self, name: str) -> nn.Module:
        """Return the sub-module of the network at dotted ``name``."""
        modules: dict[str, nn.Module] = dict(self.net.named_modules())
        modules.pop("", None)
        if name not in modules:
            error = unknown_name(f"layer of {self.name}", name, modules)
            raise DreamError(f"{error} `dreamengine layers` lists them with their outputs.")
        return modules[name]

    @contextlib.contextmanager
    def capture(self, names: Sequence[str], *, stop_early: bool = False) -> Iterator[dict[str, torch.Tensor]]:
        """Record the outputs of the named layers on every forward while active, channels on dim 1
        (:func:`channels_first`).

        With ``stop_early`` (and at least one name), each forward ends as soon
        as every named layer has produced its output, whatever their order of
        execution, and returns ``None`` instead of logits: the later layers
        never run (a module called several times in one forward is then
        captured at its first call; otherwise at its last).

        While active, a rectifier whose output is a named layer's lets a gradient through to a unit that is off
        everywhere (:mod:`dreamengine.engine.rectifiers`), so that such a unit can be dreamt.
        """
        captured: dict[str, torch.Tensor] = {}
        wanted = set(names)
        rectifiers = [module for name in names for module in self._output_rectifiers(name)]
        # a folded convolution's output would include its norm: the named ones run unfolded
        with self.unfolded(wanted), redirected(rectifiers):
            handles = [self.register_forward_pre_hook(lambda _module, _inputs: captured.clear())]
            for name in names:

                def keep(_module: nn.Module, _inputs: tuple[Any, ...], output: Any, name: str = name) -> None:
                    captured[name] = channels_first(_float(output))
                    if stop_early and wanted <= captured.keys():
                        raise _ForwardDone

                handles.append(self.layer(name).register_forward_hook(keep))
            try:
                yield captured
            finally:
                for handle in handles:
                    handle.remove()

    def _output_rectifiers(self, name: str) -> list[nn.Module]:
        """The rectifiers that make layer ``name``'s output (:func:`~dreamengine.engine.rectifiers.output_rectifiers`),
        found once, from a gray image."""
        if name not in self._rectifiers:
            gray = torch.full((1, 3, *self.input_size), 0.5, device=self.mean.device)
            self._rectifiers[name] = output_rectifiers(self.net, self.layer(name), self.normalise(gray))
        return self._rectifiers[name]

    def layer_output(self, name: str, image: torch.Tensor | None = None) -> torch.Tensor:
        """The output of layer ``name`` for ``image`` (RGB in [0, 1]; unset, a gray image of the input size), in
        eval mode, without gradients, the forward stopped there: what a component needs to know of a layer
        before the run (a guide's features, a layer's channel count)."""
        if image is None:
            image = torch.full((1, 3, *self.input_size), 0.5)
        self.eval()
        with torch.no_grad(), self.capture([name], stop_early=True) as seen:
            self(image.to(self.mean.device))
        return seen[name]

    def layer_shape(self, name: str) -> tuple[int, ...]:
        """The shape of layer ``name``'s output for one gray image of the input size, without the batch, channels
        first: what a component checks its options against before the run (a channel's index). Measured once per
        layer, by :meth:`layer_output` (the weights do not change it), so that many components of one layer (an
        atlas's batch of ``layer:NAME:CHANNEL``) cost one forward."""
        if name not in self._shapes:
            self._shapes[name] = tuple(self.layer_output(name).shape[1:])
        return self._shapes[name]

    @property
    def num_classes(self) -> int:
        """How many classes the network tells apart (from the network, else from its class names)."""
        classes = getattr(self.net, "num_classes", None) or len(self.class_names)
        if not classes and self.has_logits:
            classes = self._logit_count()
        if not classes:
            raise DreamError(f"cannot tell how many classes model {self.name!r} has.")
        return int(classes)

    def _logit_count(self) -> int:
        """How many logits a network that does not say (no ``num_classes``) gives for a gray picture of its input
        size, measured once in eval mode; 0 where its output is not ``(batch, classes)``."""
        if self._logits is None:
            gray = torch.full((1, 3, *self.input_size), 0.5, device=self.mean.device)
            with torch.no_grad():
                output = self.eval()(gray)
            self._logits = int(output.shape[1]) if isinstance(output, torch.Tensor) and output.dim() == 2 else 0
        return self._logits

    def class_index(self, name: str) -> int:
        """The index of class ``name`` (a class name or synonym, case-insensitive, or an index)."""
        return resolve_class(name, self.class_names, self.num_classes)

    def load_weights(self, state_dict: dict[str, torch.Tensor], source: str) -> None:
        """Load ``state_dict`` into the network, or explain in one line why it does not fit."""
        self.unfold_norms()
        own = self.net.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        wrong = [k for k in own if k in state_dict and own[k].shape != state_dict[k].shape]
        if missing or unexpected or wrong:
            parts = []
            if wrong:
                k = wrong[0]
                parts.append(
                    f"{len(wrong)} tensors have the wrong shape (e.g. {k}: "
                    f"{tuple(state_dict[k].shape)} in the file, {tuple(own[k].shape)} in the model)"
                )
            if missing:
                parts.append(f"{len(missing)} missing ({_some(missing)})")
            if unexpected:
                parts.append(f"{len(unexpected)} unexpected ({_some(unexpected)})")
            raise DreamError(f"{source} does not fit the architecture {self.name!r}: " + "; ".join(parts) + ".")
        self.net.load_state_dict(state_dict)


def _some(names: Sequence[str], shown: int = 5) -> str:
    """The first ``shown`` of ``names``, and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def channels_first(output: Any) -> Any:
    """A layer's output as objectives see it, channels on dim 1: a transformer's tokens, ``(batch, tokens,
    channels)``, become ``(batch, channels, tokens)``, as a convolution's ``(batch, channels, height, width)``;
    anything else is unchanged. So ``layer:blocks.3:5`` on a ViT is feature 5 of every token, not token 5."""
    if isinstance(output, torch.Tensor) and output.dim() == 3:
        return output.transpose(1, 2)
    return output


def _float(output: Any) -> Any:
    """float32 view of a low-precision floating tensor (autocast), anything else unchanged."""
    if isinstance(output, torch.Tensor) and output.is_floating_point() and output.dtype != torch.float32:
        return output.float()
    return output
