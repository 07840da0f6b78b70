"""Built-in objectives: class logit, cross-entropy, intermediate layer, channel or neuron, batch diversity."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dreamengine import DreamError, DreamOutputs, Objective, hookimpl

__all__ = ["Logit", "CrossEntropy", "Layer", "Neuron", "gram_matrix", "gram_similarity", "Diversity"]


class Logit(Objective):
    """Maximise the target class's pre-softmax activation (the report's final choice).

    Args:
        target: a class (name or index) for every batch item; unset, each
            item's ``--class``. Useful in expressions: ``logit:flamingo + logit:goose``.

    Example:
        ``dreamengine run --objective logit --class flamingo``
    """

    def __init__(self, target: str | None = None) -> None:
        self.target = target
        self._index: int | None = None

    @property
    def uses_classes(self) -> bool:
        """Each item's ``--class`` is dreamed unless ``target`` names one class for all."""
        return self.target is None

    def prepare(self, model):
        if self.target is not None:
            self._index = model.class_index(self.target)

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        if self.target is not None:
            if self._index is None:
                raise DreamError(f"logit:target={self.target} was not prepared with a model (call prepare(model)).")
            return outputs.logits[:, self._index]
        return outputs.logits.gather(1, outputs.targets[:, None])[:, 0]


class CrossEntropy(Objective):
    """Minimise cross-entropy to the target class (the report's first choice).

    Unlike ``logit``, this also pushes every other class down.
    """

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        return -F.cross_entropy(outputs.logits, outputs.targets, reduction="none")


class Layer(Objective):
    """Maximise an intermediate module's activation, or one channel of it.

    Args:
        layer: dotted module name, as listed by ``model.named_modules()`` (e.g. ``blocks.3``).
        channel: one channel to maximise (its mean activation); unset, the mean
            square of the whole layer (classic DeepDream).

    It reads no logits, so the forward stops right after ``layer`` has run.
    """

    needs_logits = False
    uses_classes = False

    def __init__(self, layer: str, channel: int | None = None) -> None:
        self.layer = layer
        self.channel = channel
        self.layers = (layer,)

    def prepare(self, model):
        """Check the channel against the layer's output before the run (its shape for a gray image)."""
        if self.channel is not None:
            _check_channel(model.layer_shape(self.layer)[0], self.layer, self.channel)

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        activation = outputs.activations[self.layer]
        if self.channel is None:
            return activation.pow(2).flatten(1).mean(1)
        return _one_channel(activation, self.layer, self.channel).reshape(len(activation), -1).mean(1)


class Neuron(Objective):
    """Maximise one neuron: one channel of an intermediate module at one position of its feature map.

    Where ``layer:NAME:CHANNEL`` dreams the channel's pattern across the whole
    image, a neuron sees only its receptive field, so the dream shows what one
    unit responds to, around the position it looks at.

    Args:
        layer: dotted module name with a ``(batch, channels, height, width)`` output (e.g. ``blocks.4``).
        channel: the channel.
        x, y: the position as a share of the feature map's width and height, from 0 (left, top) to 1
            (right, bottom); 0.5, 0.5 is its centre. A share, not a pixel, so that it stays in place
            at every size, octaves included.

    Example:
        ``dreamengine run --objective neuron:blocks.4:12:x=0.25``
    """

    needs_logits = False
    uses_classes = False

    def __init__(self, layer: str, channel: int, x: float = 0.5, y: float = 0.5) -> None:
        for name, share in (("x", x), ("y", y)):
            if not 0 <= share <= 1:
                raise ValueError(f"{name} is a share of the feature map's size, from 0 to 1; got {share}")
        self.layer, self.channel, self.x, self.y = layer, channel, x, y
        self.layers = (layer,)

    def prepare(self, model):
        """Check the channel and the feature map against the layer's output before the run (a gray image's)."""
        self._plane(model.layer_output(self.layer))

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        plane = self._plane(outputs.activations[self.layer])
        height, width = plane.shape[1:]
        return plane[:, min(int(self.y * height), height - 1), min(int(self.x * width), width - 1)]

    def _plane(self, activation: torch.Tensor) -> torch.Tensor:
        """The neuron's channel, ``(batch, height, width)``, or an error that says why the layer has none."""
        plane = _one_channel(activation, self.layer, self.channel)
        if plane.dim() == 1:
            raise DreamError(
                f"layer {self.layer!r} has no feature map: it gives features with no positions (a linear layer's "
                f"output), and a neuron needs a (channels, height, width) output; dream a feature with "
                f"layer:{self.layer}:{self.channel}."
            )
        if plane.dim() != 3:
            raise DreamError(
                f"layer {self.layer!r} has no feature map (its output is {tuple(plane.shape[1:])} per "
                "channel): a neuron needs a (channels, height, width) output; use layer:NAME:CHANNEL."
            )
        return plane


def _one_channel(activation: torch.Tensor, layer: str, channel: int) -> torch.Tensor:
    """``activation[:, channel]`` of the module ``layer``, or an error that says how many channels it has."""
    _check_channel(activation.shape[1], layer, channel)
    return activation[:, channel]


def _check_channel(channels: int, layer: str, channel: int) -> None:
    """An error that says how many channels the module ``layer`` has, unless ``channel`` is one of them."""
    if not 0 <= channel < channels:
        raise DreamError(f"layer {layer!r} has {channels} channels (0-{channels - 1}); there is no channel {channel}.")


def gram_matrix(activation: torch.Tensor) -> torch.Tensor:
    """Each item's Gram matrix: how strongly each pair of channels is active together, wherever (its style).

    Args:
        activation: ``(batch, channels, ...)`` features of one layer.

    Returns:
        ``(batch, channels, channels)``: the channels' products, averaged over positions.
    """
    features = activation.reshape(*activation.shape[:2], -1)
    return features @ features.transpose(1, 2) / features.shape[-1]


def gram_similarity(activation: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity of each item's Gram matrix (feature style) to every other item's.

    Args:
        activation: ``(batch, channels, ...)`` features of one layer.

    Returns:
        ``(batch,)`` in [-1, 1]; 0 for a batch of one.
    """
    batch = activation.shape[0]
    if batch < 2:
        return activation.new_zeros(batch) * activation.flatten(1).sum(1)  # zero, but attached to the graph
    unit = F.normalize(gram_matrix(activation).flatten(1), dim=1)
    similarity = unit @ unit.T
    return (similarity.sum(1) - similarity.diagonal()) / (batch - 1)


class Diversity(Objective):
    """Make the batch's dreams unlike each other at a layer: minus their mean Gram-matrix similarity (Lucid).

    A term for expressions over a batch of several items, e.g.
    ``--objective "layer:blocks.4 + 0.5*diversity:blocks.4" -c 1 -c 1 -c 1 --init noise``.

    Args:
        layer: dotted module name whose features are compared.
    """

    needs_logits = False
    compares_items = True
    uses_classes = False

    def __init__(self, layer: str) -> None:
        if not layer:
            raise ValueError("layer must name a module, e.g. diversity:blocks.4")
        self.layer = layer
        self.layers = (layer,)

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        return -gram_similarity(outputs.activations[self.layer])


@hookimpl
def dreamengine_register_objectives(register):
    """Register ``logit``, ``cross-entropy``, ``layer``, ``neuron`` and ``diversity``."""
    register("logit", Logit)
    register("cross-entropy", CrossEntropy)
    register("layer", Layer)
    register("neuron", Neuron)
    register("diversity", Diversity)
