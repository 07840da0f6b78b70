"""Built-in models: torchvision's classification architectures, named ``torchvision:NAME`` (``torchvision:resnet50``).

Their normalisation, input size and (for 1000 classes) ImageNet class names come from the architecture's default
weights' metadata, which torchvision ships without downloading them; the weights themselves come from
``--weights FILE``, else they are random.
"""

from __future__ import annotations

import warnings

from torch import nn

from dreamengine import DreamError, DreamModel, hookimpl, unknown_name

__all__ = ["PREFIX", "torchvision_model"]

#: What ``--model`` starts with to name a torchvision architecture.
PREFIX = "torchvision:"


def torchvision_model(name: str, num_classes: int | None = None) -> DreamModel:
    """Torchvision's classification architecture ``name`` with random weights and ``num_classes`` outputs (``None``:
    its own 1000; 0: no classifier, a feature extractor)."""
    from torchvision import models

    architectures = models.list_models(module=models)
    if name not in architectures:
        raise DreamError(
            f"{unknown_name('torchvision architecture', name, architectures, show=0)}"
            f" torchvision has {len(architectures)} (torchvision.models.list_models(module=torchvision.models))."
        )
    kwargs = {} if not num_classes else {"num_classes": num_classes}
    net = models.get_model(name, weights=None, **kwargs)
    if num_classes == 0:
        _drop_classifier(net)
    meta = models.get_model_weights(name).DEFAULT
    transform = meta.transforms()
    side = int(transform.crop_size[0])
    categories = meta.meta.get("categories") or ()
    classes = num_classes if num_classes is not None else len(categories)
    warnings.warn(
        f"model {PREFIX}{name!r} has random weights (give --weights FILE); its dreams show nothing it has learned.",
        stacklevel=2,
    )
    return DreamModel(
        net,
        name=f"{PREFIX}{name}",
        mean=tuple(transform.mean),
        std=tuple(transform.std),
        input_size=(side, side),
        class_names=categories if classes == len(categories) else (),
    )


def _drop_classifier(net: nn.Module) -> None:
    """Replace the network's last linear layer (its classifier) with an identity: its output becomes features."""
    names = [name for name, module in net.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise DreamError(f"{type(net).__name__} has no linear classifier to leave out.")
    parent, _, child = names[-1].rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, child, nn.Identity())


@hookimpl
def dreamengine_load_model(name, pretrained, num_classes):
    """Load ``torchvision:NAME``; decline any other name."""
    if not name.startswith(PREFIX):
        return None
    if pretrained:
        raise DreamError(
            f"--pretrained downloads timm's weights only: give {name}'s weights as a file, --weights FILE."
        )
    return torchvision_model(name[len(PREFIX) :], num_classes)
