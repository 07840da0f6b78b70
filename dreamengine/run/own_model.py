"""Your own model: an architecture with a weights file, a saved timm or Hugging Face folder (or an ``hf-hub:`` name
found in the local cache), and the settings that override what a model says of itself (class names, mean, std,
input size). docs/models.md is the user's side of it."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
from huggingface_hub import constants, snapshot_download

from dreamengine.engine.model import DreamModel
from dreamengine.engine.weights import WeightsFile, file_sha256, head_classes, input_channels, read_state_dict
from dreamengine.errors import DreamError
from dreamengine.run.config import RunConfig, parse_size

__all__ = [
    "HUB_PREFIX",
    "Create",
    "saved_folder",
    "load_saved_folder",
    "load_with_weights",
    "with_settings",
    "read_class_names",
    "wrap_module",
]

#: How ``--model`` names a model on the Hugging Face hub (as timm does), read from the local cache only.
HUB_PREFIX = "hf-hub:"
#: The files a saved folder may hold its weights in, in the order they are read.
FOLDER_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


class Create(Protocol):
    """Builds an architecture by name with a number of classes (``None``: its own) and of input channels, random
    weights."""

    def __call__(self, name: str, num_classes: int | None, in_chans: int = 3) -> DreamModel: ...


def saved_folder(name: str) -> Path | None:
    """The folder of a saved model that ``--model NAME`` names (one holding ``config.json``, or ``hf-hub:REPO``
    found in the local Hugging Face cache), or ``None`` when it names an architecture."""
    if name.startswith(HUB_PREFIX):
        return _cached(name[len(HUB_PREFIX) :])
    path = Path(name)
    if (path / "config.json").is_file():
        return path
    if path.is_dir() and ("/" in name or "\\" in name or name.startswith(".")):
        raise DreamError(
            f"folder {name!r} holds no config.json: a saved model's folder has config.json and "
            f"{' or '.join(FOLDER_WEIGHTS)}, as timm's save_pretrained writes them."
        )
    return None


def _cached(repo: str) -> Path:
    """The snapshot of ``REPO[@REVISION]`` in the local Hugging Face cache; never the network."""
    name, _, revision = repo.partition("@")
    try:
        return Path(snapshot_download(name, revision=revision or None, local_files_only=True))
    except Exception:  # not cached, or a malformed name: either way there is nothing here to load
        raise DreamError(
            f"{HUB_PREFIX}{repo} is not in the local Hugging Face cache ({constants.HF_HUB_CACHE}), and dreamengine "
            f"downloads nothing: fetch it once (hf download {name}), or give the folder it is saved in."
        ) from None


def load_saved_folder(create: Create, folder: Path) -> DreamModel:
    """The model a saved folder holds: ``config.json``'s architecture, classes, label names and ``pretrained_cfg``
    (mean, std, input size), with the weights of ``model.safetensors`` or ``pytorch_model.bin``."""
    config = _read_json(folder / "config.json")
    architecture, classes = config.get("architecture"), config.get("num_classes")
    if not isinstance(architecture, str) or not architecture:
        raise DreamError(f"{str(folder / 'config.json')!r} names no architecture (its 'architecture' key).")
    files = [folder / name for name in FOLDER_WEIGHTS if (folder / name).is_file()]
    if not files:
        raise DreamError(f"folder {str(folder)!r} holds no weights: it needs {' or '.join(FOLDER_WEIGHTS)}.")
    model = load_with_weights(create, architecture, files[0], classes if isinstance(classes, int) else None)
    labels = config.get("label_names")
    if isinstance(labels, Mapping):
        labels = [labels[key] for key in sorted(labels, key=int)]
    if isinstance(labels, list) and len(labels) == model.num_classes:
        model.class_names = [str(label) for label in labels]
    pretrained = config.get("pretrained_cfg") or {}
    for key in ("mean", "std"):
        if pretrained.get(key):
            _set_normalisation(model, key, [float(v) for v in pretrained[key]], f"{folder}'s config.json")
    if pretrained.get("input_size"):
        model.input_size = (int(pretrained["input_size"][-2]), int(pretrained["input_size"][-1]))
    return model


def _read_json(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DreamError(f"{str(path)!r} is not readable JSON ({error}).") from None
    if not isinstance(config, dict):
        raise DreamError(f"{str(path)!r} is not a model's config: it holds no JSON object.")
    return config


def load_with_weights(create: Create, architecture: str, path: str | Path, classes: int | None = None) -> DreamModel:
    """``architecture`` with the state dict in ``path``, loaded strictly. The number of classes is ``classes``, else
    the weights' (a 555-class head makes a 555-class model); weights without the head make a feature extractor.
    The input channels are the weights' first convolution's: weights of a grayscale network (1 channel) make the
    architecture with one input channel, which dreams in gray; other counts than 1 and 3 are refused."""
    path = Path(path)
    state = read_state_dict(path)
    with warnings.catch_warnings():  # the file's weights replace the random ones
        warnings.filterwarnings("ignore", message=".*random weights.*")
        model = create(architecture, classes)
        channels = _channels(model, state, path)
        headless, rebuild = False, channels != 3
        if classes is None:
            own = model.net.state_dict()
            found = head_classes(own, state, model.num_classes)
            headless = _headless(own, state, model.num_classes)
            classes, rebuild = (0 if headless else found), rebuild or found is not None or headless
        if rebuild:
            model = create(architecture, classes, channels)
            model.has_logits = not headless
            if input_channels(model.net, state) is not None:
                raise DreamError(
                    f"the weights in {str(path)!r} take {channels} input channels, and the loader of "
                    f"{architecture!r} builds it for 3 only: timm architectures take 1 (grayscale) or 3."
                )
    model.load_weights(state, f"weights {str(path)!r}")
    model.weights = WeightsFile(path, file_sha256(path))
    return model


def _channels(model: DreamModel, state: Mapping[str, torch.Tensor], path: Path) -> int:
    """The input channels the weights in ``state`` take (``model``'s, 3, unless its first convolution's weight
    there says otherwise), or a one-line refusal of a count other than 1 and 3."""
    found = input_channels(model.net, state)
    if found is None:
        return 3
    name, channels = found
    if channels != 1:
        raise DreamError(
            f"the weights in {str(path)!r} take {channels} input channels ({name} is {tuple(state[name].shape)}): "
            "dreamengine dreams RGB pictures (3 channels) and grayscale ones (1)."
        )
    return channels


def _headless(own: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], classes: int) -> bool:
    """Whether ``given`` is ``own`` without its classifier: each tensor it lacks is one of ``classes`` rows."""
    missing = [name for name in own if name not in given]
    return bool(missing) and all(own[name].dim() >= 1 and own[name].shape[0] == classes for name in missing)


def with_settings(model: DreamModel, config: RunConfig) -> DreamModel:
    """``model`` with what ``config`` overrides: ``class_names`` (a file or a dataset folder), ``mean``, ``std``,
    ``input_size``."""
    if config.class_names:
        names = read_class_names(config.class_names)
        if model.has_logits and len(names) != model.num_classes:
            raise DreamError(
                f"--class-names {config.class_names!r} names {len(names)} classes, and {model.name} has "
                f"{model.num_classes} outputs: it needs one name per output, in order."
            )
        model.class_names = names
    for key in ("mean", "std"):
        values = getattr(config, key)
        if values is not None:
            _set_normalisation(model, key, values, f"--{key}")
    size = parse_size(config.input_size)
    if size is not None:
        model.input_size = size
    return model


def _set_normalisation(model: DreamModel, key: str, values: list[float], where: str) -> None:
    current = getattr(model, key)
    if len(values) != current.shape[1]:
        raise DreamError(
            f"{where} gives {len(values)} {key} values, and {model.name} takes {current.shape[1]} input channels: "
            "give one per channel."
        )
    current.copy_(torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1))


def read_class_names(path: str | Path) -> list[str]:
    """Class names from a file (one a line, or a JSON list) or a dataset folder (its class folders, sorted, as
    torchvision's ``ImageFolder`` numbers them)."""
    path = Path(path)
    if path.is_dir():
        names = sorted(child.name for child in path.iterdir() if child.is_dir() and not child.name.startswith("."))
        if not names:
            raise DreamError(f"dataset folder {str(path)!r} has no class folders to name the classes after.")
        return names
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DreamError(f"cannot read class names from {str(path)!r} ({type(error).__name__}).") from None
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except json.JSONDecodeError as error:
            raise DreamError(f"{str(path)!r} is not a valid JSON list of class names ({error}).") from None
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise DreamError(f"{str(path)!r} is not a JSON list of class names (text, one per class).")
        return names
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DreamError(f"{str(path)!r} names no classes: write one a line, or a JSON list.")
    return names


#: ImageNet's normalisation, what a module from Python is given unless told otherwise (its luminance's for one
#: input channel).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
GRAY_MEAN, GRAY_STD = (0.449,), (0.226,)


def wrap_module(
    net: torch.nn.Module,
    *,
    name: str | None = None,
    mean: list[float] | tuple[float, ...] | None = None,
    std: list[float] | tuple[float, ...] | None = None,
    input_size: int | str | tuple[int, int] | None = None,
    class_names: list[str] | tuple[str, ...] = (),
) -> DreamModel:
    """Any ``nn.Module`` that maps pictures to logits or features, ready to dream: ImageNet's normalisation unless
    given, 224 pixels unless given, classes numbered unless named. A network of one input channel sees the
    picture's luminance; one whose output is not ``(batch, classes)`` is a feature extractor (no logits)."""
    channels = _input_channels(net)
    if channels not in (1, 3):
        raise DreamError(
            f"{type(net).__name__} takes {channels} input channels: dreamengine dreams RGB pictures (3 channels) "
            "and grayscale ones (1); wrap the network in a module that maps 3 channels to its own."
        )
    size = input_size if isinstance(input_size, tuple) else parse_size(input_size) or (224, 224)
    model = DreamModel(
        net,
        name=name or type(net).__name__,
        mean=mean or (GRAY_MEAN if channels == 1 else IMAGENET_MEAN),
        std=std or (GRAY_STD if channels == 1 else IMAGENET_STD),
        input_size=size,
        class_names=class_names,
    )
    gray = torch.full((1, 3, *model.input_size), 0.5)
    with torch.no_grad():
        output = model.eval()(gray.to(model.mean.device))
    if not isinstance(output, torch.Tensor):
        raise DreamError(
            f"{model.name} returns a {type(output).__name__}, not one tensor: wrap it in a module whose forward "
            "returns the logits (or the features) alone."
        )
    model.has_logits = output.dim() == 2
    return model


def _input_channels(net: torch.nn.Module) -> int:
    """The input channels of the network's first convolution or linear layer (3 when it has none)."""
    for module in net.modules():
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            return int(module.in_channels)
        if isinstance(module, torch.nn.Linear):
            return 3
    return 3
