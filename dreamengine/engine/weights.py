"""Weights trained elsewhere: a state dict read from ``.safetensors`` or ``torch.save``'s format, never running code.

A ``.pt``/``.pth``/``.bin`` file loads with ``weights_only=True``; the state dict may be the whole file or nested
under ``state_dict_ema``, ``model_ema``, ``state_dict`` or ``model`` (the first found, as timm's ``load_checkpoint``
prefers an EMA), and the ``module.`` and ``_orig_mod.`` prefixes that DistributedDataParallel and ``torch.compile``
leave are dropped. A pickled whole module is refused with the line that saves its state dict instead.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from dreamengine.errors import DreamError

__all__ = [
    "NESTED_KEYS",
    "WeightsFile",
    "file_sha256",
    "read_state_dict",
    "head_classes",
    "input_channels",
    "unloadable",
]

#: Where a training loop's checkpoint keeps its state dict, in the order they are looked for (an EMA first).
NESTED_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")
#: What DistributedDataParallel (``module.``) and ``torch.compile`` (``_orig_mod.``) put before each name.
_PREFIXES = ("module.", "_orig_mod.")


@dataclass(frozen=True)
class WeightsFile:
    """A weights file a model was loaded from: its path and SHA-256, what each dream's settings name."""

    path: Path
    sha256: str

    def to_json(self) -> dict[str, str]:
        """``{"file": NAME, "sha256": HEX}``, as a dream's manifest stores it."""
        return {"file": self.path.name, "sha256": self.sha256}


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in a weights file, unnested and without DDP's or ``torch.compile``'s prefixes."""
    path = Path(path)
    if not path.is_file():
        raise DreamError(f"weights file {str(path)!r} does not exist.")
    payload = _found_state_dict(_read_safetensors(path) if path.suffix == ".safetensors" else _read_torch(path))
    if payload is None:
        raise DreamError(
            f"{str(path)!r} holds no state dict: it needs names mapped to tensors, at the top or under one of "
            f"{', '.join(NESTED_KEYS)}."
        )
    return {_unprefixed(str(name)): tensor for name, tensor in payload.items()}


def head_classes(own: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], classes: int) -> int | None:
    """How many classes the head in ``given`` has, where ``own`` is the same architecture's state dict with a head
    of ``classes`` outputs: the first size of each tensor of ``own`` that has ``classes`` rows and that ``given``
    holds with other rows and the same other sizes (the classifier's weight and bias). ``None``: no such tensor
    (the head fits as it is), or they disagree."""
    rows = {
        given[name].shape[0]
        for name, tensor in own.items()
        if tensor.dim() >= 1
        and tensor.shape[0] == classes
        and name in given
        and given[name].dim() == tensor.dim()
        and given[name].shape[0] != classes
        and given[name].shape[1:] == tensor.shape[1:]
    }
    return rows.pop() if len(rows) == 1 else None


def input_channels(net: torch.nn.Module, given: Mapping[str, torch.Tensor]) -> tuple[str, int] | None:
    """The input channels of the weights ``given`` for ``net``, where they are not ``net``'s: the name of ``net``'s
    first convolution's weight and how many input channels ``given`` holds for it (1 for a grayscale network's
    weights when ``net`` was built for RGB). ``None``: the first convolution fits as it is (or there is none)."""
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            key = f"{name}.weight"
            own, theirs = module.weight, given.get(key)
            if (
                module.groups != 1
                or theirs is None
                or theirs.dim() != own.dim()
                or theirs.shape[1] == own.shape[1]
                or theirs.shape[0] != own.shape[0]
                or theirs.shape[2:] != own.shape[2:]
            ):
                return None
            return key, int(theirs.shape[1])
    return None


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DreamError(f"{str(path)!r} is not a readable safetensors file ({detail}).") from None


def _read_torch(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a file that is not a state dict fails in any way
        if _pickled_module(path):
            raise DreamError(
                f"{str(path)!r} is a whole pickled model (torch.save(model, ...)), which loading would have to run "
                "code for: save its weights instead, torch.save(model.state_dict(), 'model.pth'), and give "
                "--model ARCHITECTURE --weights model.pth."
            ) from None
        raise unloadable(path, error) from None


def _pickled_module(path: Path) -> bool:
    """Whether ``torch.save`` wrote an ``nn.Module`` itself into ``path``, seen in the pickle's bytes (a module's
    ``_modules`` and ``_parameters``) without unpickling anything."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        data = [name for name in archive.namelist() if name.endswith("data.pkl")]
        text = archive.read(data[0]) if data else b""
    return b"_modules" in text and b"_parameters" in text


def _found_state_dict(payload: Any, depth: int = 2) -> Mapping[Any, torch.Tensor] | None:
    """``payload`` if it is a state dict, else the first one under :data:`NESTED_KEYS`, ``depth`` levels down at most.

    A key whose value holds no state dict (an empty EMA, an optimizer's settings) is passed over for the next.
    """
    if not isinstance(payload, Mapping):
        return None
    if _is_state_dict(payload):
        return payload
    for key in NESTED_KEYS if depth else ():
        found = _found_state_dict(payload.get(key), depth - 1)
        if found is not None:
            return found
    return None


def _is_state_dict(payload: Mapping[Any, Any]) -> bool:
    return bool(payload) and all(isinstance(value, torch.Tensor) for value in payload.values())


def _unprefixed(name: str) -> str:
    """``name`` without the prefixes DDP and ``torch.compile`` leave, however they nest (``module._orig_mod.``)."""
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name, stripped = name[len(prefix) :], True
    return name


def unloadable(path: Path, error: Exception) -> DreamError:
    """The error for a checkpoint or weights file that ``torch.load`` refused, saying which of three things it is."""
    text = str(error).strip()
    reason = _weights_only_reason(text) if text.startswith("Weights only load failed") else None
    if not _saved_by_torch(path) or (reason or "").startswith("Unsupported operand"):  # not a whole pickle
        return DreamError(
            f"{str(path)!r} is not a loadable checkpoint: it is not a complete file saved with "
            "torch.save (a different kind of file, or a truncated download?)."
        )
    if reason is not None:
        return DreamError(
            f"{str(path)!r} is not a loadable checkpoint: dreamengine loads checkpoints with "
            f"weights_only=True and never runs code from them, and this one needs more ({reason})."
        )
    first = text.splitlines()[0] if text else type(error).__name__
    return DreamError(f"{str(path)!r} is not a loadable checkpoint ({first}).")


def _weights_only_reason(text: str) -> str:
    """What ``torch.load(weights_only=True)`` refused, from its message: the line after its advice."""
    lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
    detail = [line for line in lines if not line.startswith(("Please file", "Check the", "(1)", "(2)"))]
    if not detail:
        return "it holds Python objects other than tensors and plain values"
    return detail[0].split("WeightsUnpickler error:")[-1].split(". Please use")[0].strip()


def _saved_by_torch(path: Path) -> bool:
    """Whether ``path`` looks like ``torch.save``'s output: a zip archive, or a pickle (torch's legacy format)."""
    with path.open("rb") as file:
        if file.read(1) == b"\x80":  # before is_zipfile, which moves the file's position
            return True
    return zipfile.is_zipfile(path)
