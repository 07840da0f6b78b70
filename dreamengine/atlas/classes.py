"""Units and classes: which units of a classifier's last feature layer feed each class, and which classes each
unit supports, read from the classifier's weights.

This holds for a classifier whose last feature map reaches a linear classifier through global average pooling
(ResNets, EfficientNets, MobileNets, RegNets, ...): the logit of class ``c`` is ``sum_u W[c, u] * mean(u) + b[c]``,
so ``W[c, u]`` is exactly how much one unit of activation of ``u`` adds to class ``c``. The layer is found from
the model, not from its name: the classifier is timm's ``get_classifier()`` (else the last linear layer the
network defines), and the layer is the last module to finish whose output, averaged over its positions, *is* the
classifier's input (checked on a forward of a noise image). A model where no such layer exists (a norm between
the pool and the classifier, a transformer's class token) gets no links.
"""

from __future__ import annotations

import json
import os

import torch
from torch import nn

from dreamengine.atlas.folder import CLASSES, atlas_folder
from dreamengine.engine.classes import display_name
from dreamengine.engine.model import DreamModel

__all__ = ["CLASS_UNITS", "UNIT_CLASSES", "class_links", "pooled_layer"]

#: Units listed per class.
CLASS_UNITS = 8
#: Classes listed per unit.
UNIT_CLASSES = 5


def class_links(model: DreamModel, output: str | os.PathLike) -> dict | None:
    """Write ``output/classes.json`` (atomically) and return it: for each class (its index, short name, whole
    description with its synonyms) the :data:`CLASS_UNITS` units of the pooled feature layer with the largest
    weights into it, for each unit the :data:`UNIT_CLASSES` classes it supports most, as ``[index, weight]``
    pairs. ``None`` (nothing written) when the model is not a classifier of
    that shape (see :func:`pooled_layer`)."""
    found = pooled_layer(model)
    if found is None:
        return None
    layer, weight = found
    classes, units = weight.shape
    by_class = weight.topk(min(CLASS_UNITS, units), dim=1)
    by_unit = weight.T.topk(min(UNIT_CLASSES, classes), dim=1)
    links = {
        "layer": layer,
        "classes": [
            {
                "index": index,
                "name": display_name(model.class_names, index),
                "description": model.class_names[index] if index < len(model.class_names) else "",
                "units": _pairs(by_class.indices[index], by_class.values[index]),
            }
            for index in range(classes)
        ],
        "units": {str(unit): _pairs(by_unit.indices[unit], by_unit.values[unit]) for unit in range(units)},
    }
    atlas_folder(output).write_bytes(CLASSES, json.dumps(links).encode())
    return links


def pooled_layer(model: DreamModel) -> tuple[str, torch.Tensor] | None:
    """The name of the layer whose global average pool feeds the classifier, and the classifier's weights
    ``(classes, units)``; ``None`` for a model without one."""
    classifier = _classifier(model.net)
    if classifier is None:
        return None
    finished: list[tuple[str, torch.Tensor]] = []
    taken: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_module, _inputs, output):
            if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[1] == classifier.in_features:
                finished.append((name, output.detach()))

        return hook

    def feed(_module, inputs):
        taken.setdefault("input", inputs[0].detach())

    handles = [module.register_forward_hook(keep(name)) for name, module in model.net.named_modules() if name]
    handles.append(classifier.register_forward_pre_hook(feed))
    image = torch.rand(2, 3, *model.input_size, generator=torch.Generator().manual_seed(0)).to(model.mean.device)
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(image)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    pooled = taken.get("input")
    matches = [name for name, out in finished if pooled is not None and _pools_to(out, pooled)]
    if not matches:
        return None
    return matches[-1], classifier.weight.detach().float().cpu()


def _classifier(net: nn.Module) -> nn.Linear | None:
    """timm's ``get_classifier()`` if it is a linear layer, else the network's last linear layer."""
    getter = getattr(net, "get_classifier", None)
    if callable(getter):
        found = getter()
        return found if isinstance(found, nn.Linear) else None
    linear = [module for module in net.modules() if isinstance(module, nn.Linear)]
    return linear[-1] if linear else None


def _pools_to(output: torch.Tensor, pooled: torch.Tensor) -> bool:
    """Whether the spatial mean of the map ``output`` (more than one position) is the classifier's input."""
    if output.shape[-2:].numel() < 2:
        return False
    mean = output.float().mean((2, 3))
    return mean.shape == pooled.flatten(1).shape and torch.allclose(
        mean, pooled.flatten(1).float(), rtol=1e-4, atol=1e-5
    )


def _pairs(indices: torch.Tensor, values: torch.Tensor) -> list[list]:
    return [[int(index), float(f"{float(value):.6g}")] for index, value in zip(indices, values)]
