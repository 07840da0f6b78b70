"""The options that say which model to use, shared by every command that loads one (``run``, ``atlas``, ``layers``,
``classes``, ``direction``; ``evaluate``'s judge with the ``judge`` prefix): a name, or your own model's
weights, class names, normalisation and input size (docs/models.md)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import click

from dreamengine.cli.once import once
from dreamengine.run.config import RunConfig

__all__ = [
    "MODEL_SETTINGS",
    "model_option_list",
    "model_options",
    "model_settings",
    "model_config",
    "model_label",
]

#: The run settings these options set, in the order ``--help`` lists them.
MODEL_SETTINGS = ("model", "checkpoint", "weights", "class_names", "mean", "std", "input_size", "pretrained")


def model_option_list(*, prefix: str = "") -> list[tuple[str, Callable[[Any], Any]]]:
    """Each model option as ``(setting, decorator)``; with ``prefix`` (``judge``) each flag and value name starts
    with it (``--judge-weights``, ``judge_weights``)."""
    flag = f"--{prefix}-" if prefix else "--"
    name = f"{prefix}_" if prefix else ""
    return [
        (
            "model",
            once(
                f"{flag}model",
                *(() if prefix else ("-m",)),
                f"{name}model",
                help="Registered model, timm architecture, torchvision:NAME, a saved model's folder (config.json) "
                f"or hf-hub:NAME from the local cache. [default: {RunConfig.model}]",
            ),
        ),
        (
            "checkpoint",
            once(
                f"{flag}checkpoint",
                f"{name}checkpoint",
                type=click.Path(dir_okay=False),
                help="A dreamengine checkpoint.",
            ),
        ),
        (
            "weights",
            once(
                f"{flag}weights",
                f"{name}weights",
                type=click.Path(dir_okay=False),
                help="Weights for the architecture --model names: .safetensors, or a .pt/.pth/.bin state dict.",
            ),
        ),
        (
            "class_names",
            once(
                f"{flag}class-names",
                f"{name}class_names",
                type=click.Path(),
                help="Class names: a file (one a line, or a JSON list), or a dataset folder of class folders.",
            ),
        ),
        ("mean", once(f"{flag}mean", f"{name}mean", metavar="M,M,M", help="Normalisation mean, one per channel.")),
        ("std", once(f"{flag}std", f"{name}std", metavar="S,S,S", help="Normalisation std, one per channel.")),
        (
            "input_size",
            once(f"{flag}input-size", f"{name}input_size", metavar="N|WxH", help="The size the model was trained at."),
        ),
        (
            "pretrained",
            click.option(
                f"{flag}pretrained/{flag.replace('--', '--no-', 1)}pretrained",
                f"{name}pretrained",
                default=None,
                help="Download timm's pretrained weights.",
            ),
        ),
    ]


def model_options(*, prefix: str = "", leave_out: Collection[str] = ()) -> Callable[[Any], Any]:
    """Add the model options to a command, less the settings in ``leave_out``; :func:`model_settings` reads their
    values."""

    def add(command: Any) -> Any:
        for setting, option in reversed(model_option_list(prefix=prefix)):
            if setting not in leave_out:
                command = option(command)
        return command

    return add


def model_settings(values: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """The run settings the model options were given (by setting name), from a command's arguments."""
    name = f"{prefix}_" if prefix else ""
    return {setting: values[name + setting] for setting in MODEL_SETTINGS if values.get(name + setting) is not None}


def model_config(values: Mapping[str, Any], *, prefix: str = "") -> RunConfig:
    """The default run settings with the model options' values (:func:`model_settings`) applied."""
    return RunConfig().updated(model_settings(values, prefix=prefix), "the command line")


def model_label(config: RunConfig) -> str:
    """What is loaded, as the status line says it: the checkpoint, the architecture with its weights, or the model."""
    if config.checkpoint:
        return config.checkpoint
    return f"{config.model} with {config.weights}" if config.weights else config.model
