"""Checkpoints: a state dict plus what the engine needs to dream with it, never executable.

A checkpoint is a dict saved with ``torch.save`` holding only tensors and plain
values, so it loads with ``torch.load(..., weights_only=True)``::

    {"format": "dreamengine-checkpoint", "version": 1,
     "architecture": "resnet10t", "num_classes": 3, "class_names": [...],
     "input_size": [128, 128], "mean": [...], "std": [...],
     "state_dict": {...}, "extra": {...}}
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from dreamengine.engine.model import DreamModel
from dreamengine.engine.weights import WeightsFile, file_sha256, unloadable
from dreamengine.errors import DreamError

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoints_in",
    "save_checkpoint",
    "read_checkpoint",
    "is_checkpoint",
    "load_checkpoint_model",
]

CHECKPOINT_FORMAT = "dreamengine-checkpoint"
_REQUIRED = ("architecture", "num_classes", "state_dict")


def save_checkpoint(
    model: DreamModel,
    path: str | Path,
    *,
    architecture: str,
    extra: Mapping[str, Any] | None = None,
    training_state: Mapping[str, Any] | None = None,
) -> Path:
    """Save ``model``'s weights and metadata to ``path``.

    ``training_state`` (e.g. the optimizer's state dict) is kept under that key
    so that training can resume; dreaming ignores it.
    """
    path, outputs = Path(path), _outputs(model)  # refused before anything is written
    path.parent.mkdir(parents=True, exist_ok=True)
    with model.unfolded():  # the network as built, whatever a dream folded
        weights = model.net.state_dict()
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "architecture": architecture,
        "num_classes": outputs,
        "class_names": list(model.class_names),
        "input_size": list(model.input_size),
        "mean": model.mean.flatten().tolist(),
        "std": model.std.flatten().tolist(),
        "state_dict": weights,
        "extra": dict(extra or {}),
    }
    if training_state is not None:
        payload["training_state"] = dict(training_state)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def _outputs(model: DreamModel) -> int:
    """How many classes ``model`` tells apart: one per class name, else its network's ``num_classes``."""
    count: Any = len(model.class_names) or getattr(model.net, "num_classes", None)
    if not _is_whole(count) or count < 1:
        raise DreamError(
            f"cannot save {model.name!r} as a checkpoint: it has no class names and its network no num_classes, "
            "so the checkpoint could not say how many outputs to build."
        )
    return count


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``) and check it has what the engine needs."""
    path = Path(path)
    if not path.is_file():
        raise DreamError(f"checkpoint {str(path)!r} does not exist.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a file that is not a checkpoint fails in any way (KeyError for a text file)
        raise unloadable(path, error) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise DreamError(
            f"{str(path)!r} is not a dreamengine checkpoint (no 'format': '{CHECKPOINT_FORMAT}'); "
            "save one with dreamengine train or dreamengine.engine.checkpoint.save_checkpoint."
        )
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise DreamError(f"checkpoint {str(path)!r} lacks {', '.join(missing)}.")
    _check_metadata(payload, f"checkpoint {str(path)!r}")
    return payload


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a dreamengine checkpoint (a file ``torch.save`` wrote whose ``format`` says so), read
    safely; False for any other file, a ``.safetensors`` file or a state dict from elsewhere among them."""
    path = Path(path)
    if path.suffix == ".safetensors" or not path.is_file():
        return False
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # not a file torch can read safely: not a checkpoint
        return False
    return isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT


def _check_metadata(payload: Mapping[str, Any], where: str) -> None:
    """Refuse metadata the engine cannot dream with, in one line: an architecture that is not a name, weights
    that are not a state dict, a class count that is not a positive whole number, class names that do not name
    each output once, an input size other than (height, width), a normalisation other than one value per colour.
    A field that is absent, ``None`` or empty leaves the architecture's own."""
    if not isinstance(payload["architecture"], str) or not payload["architecture"]:
        raise DreamError(f"{where} has architecture {payload['architecture']!r}: it must be a model's name.")
    if not isinstance(payload["state_dict"], Mapping):
        raise DreamError(f"{where} has a state_dict that is not a mapping of names to tensors.")
    count = payload["num_classes"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise DreamError(f"{where} has num_classes {count!r}: it must be a whole number of outputs, 1 or more.")
    names = _given(payload, "class_names")
    if names is not None and not (isinstance(names, (list, tuple)) and all(isinstance(name, str) for name in names)):
        raise DreamError(f"{where} has class_names that are not a list of names: {names!r}.")
    if names and len(names) != count:
        raise DreamError(
            f"{where} names {len(names)} classes for its {count} outputs (num_classes): it needs one name per output."
        )
    size = _given(payload, "input_size")
    if size is not None and not (
        isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_whole(v) and v >= 1 for v in size)
    ):
        raise DreamError(f"{where} has input_size {size!r}: it needs 2 whole numbers of pixels, (height, width).")
    for key in ("mean", "std"):
        values = _given(payload, key)
        if values is not None and not (
            isinstance(values, (list, tuple)) and len(values) == 3 and all(_is_number(v) for v in values)
        ):
            raise DreamError(f"{where} has {key} {values!r}: it needs 3 numbers, one per colour (red, green, blue).")
    std = _given(payload, "std")
    if std is not None and any(v <= 0 for v in std):
        raise DreamError(f"{where} has std {std!r}: each must be above 0.")


def _given(payload: Mapping[str, Any], key: str) -> Any:
    """``payload[key]``, or ``None`` where it is absent, ``None`` or an empty list or tuple (the architecture's own
    value is kept). Anything else, a tensor included, is returned as it is, for the checks to judge."""
    value = payload.get(key)
    return None if value is None or (isinstance(value, (list, tuple)) and not value) else value


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_whole(value: Any) -> bool:
    """An int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def load_checkpoint_model(path: str | Path, create: Callable[[str, int], DreamModel]) -> DreamModel:
    """Build the checkpoint's architecture with ``create(architecture, num_classes)`` and load its weights."""
    payload = read_checkpoint(path)
    model = create(payload["architecture"], int(payload["num_classes"]))
    model.load_weights(payload["state_dict"], f"checkpoint {str(path)!r}")
    model.weights = WeightsFile(Path(path), file_sha256(path))
    model.class_names = list(_given(payload, "class_names") or model.class_names)
    size = _given(payload, "input_size")
    if size is not None:
        model.input_size = (int(size[0]), int(size[1]))
    for key in ("mean", "std"):
        values = _given(payload, key)
        if values is not None:
            getattr(model, key).copy_(torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1))
    return model


#: the file name of a fine-tuning run's checkpoint after each epoch
_CHECKPOINT = re.compile(r"epoch-(\d{3,})\.pt")


def checkpoints_in(folder: str | Path) -> list[Path]:
    """The ``epoch-NNN.pt`` files in ``folder``, in epoch order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    epochs = {path: match for path in folder.iterdir() if (match := _CHECKPOINT.fullmatch(path.name))}
    return sorted(epochs, key=lambda path: int(epochs[path].group(1)))
