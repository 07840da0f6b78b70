"""Preparing a dream: from a RunConfig to a DreamJob (the model loaded, every component built, the start image made)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dreamengine.components import DreamJob
from dreamengine.engine.checkpoint import load_checkpoint_model
from dreamengine.engine.loop import OPTIMIZERS
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError, check_options, unknown_name
from dreamengine.options import ComponentSpec
from dreamengine.plugins import PluginHost
from dreamengine.registry import Registry
from dreamengine.run.acceleration import accelerate
from dreamengine.run.allocator import keep_freed_memory
from dreamengine.run.batch import (
    check_dream_size,
    class_indices,
    warn_if_copies_stay_alike,
    warn_if_huge,
)
from dreamengine.run.config import RunConfig, parse_size
from dreamengine.run.expressions import build_objective
from dreamengine.run.outputs import check_output
from dreamengine.run.own_model import load_saved_folder, load_with_weights, saved_folder, with_settings
from dreamengine.run.threads import apply_threads

__all__ = [
    "PreparedRun",
    "dream_model",
    "resolve_device",
    "load_architecture",
    "load_model",
    "apply_preset",
    "build_components",
    "build_job",
    "prepare",
    "start_file",
    "dream_size",
]


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; anything else must be available.

    On CUDA it also asks cuDNN for its deterministic kernels (and no per-shape
    benchmarking), so the same seed repeats as far as the ops allow.
    """
    device = _named_device(name)
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return device


def _named_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DreamError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DreamError(f"--device {name} was asked for, but this torch has no usable CUDA device.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise DreamError(
            f"--device {name} was asked for, but there are {count} CUDA devices here (cuda:0 to cuda:{count - 1})."
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DreamError("--device mps was asked for, but MPS is not available here.")
    return device


def load_model(host: PluginHost, config: RunConfig) -> DreamModel:
    """The model a config names: a checkpoint, a registered model, or one a loader plugin provides.

    Random initial weights are drawn under ``config.seed``, so even an untrained
    model dreams the same bytes twice. The process's allocator is set to keep the
    blocks each step frees for the next (:func:`~dreamengine.run.allocator.keep_freed_memory`).
    """
    keep_freed_memory()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return _load_model(host, config)


def load_architecture(
    host: PluginHost, name: str, *, pretrained: bool = False, num_classes: int | None = None, in_chans: int = 3
) -> DreamModel:
    """A model by architecture name from the ``dreamengine_load_model`` hook (timm's loader runs last)."""
    model = host.hook.dreamengine_load_model(
        name=name, pretrained=pretrained, num_classes=num_classes, in_chans=in_chans
    )
    if model is None:
        raise unknown_name("model", name, host.registry.names("models"))
    return model


def _load_model(host: PluginHost, config: RunConfig) -> DreamModel:
    """The model of ``config`` (a checkpoint, an architecture with a weights file, a saved folder, a registered
    model, or one from the hook), with the class names, normalisation and input size ``config`` overrides."""

    def create(name: str, num_classes: int | None, in_chans: int = 3) -> DreamModel:
        return load_architecture(host, name, num_classes=num_classes, in_chans=in_chans)

    if config.checkpoint and config.weights:
        raise DreamError("give --checkpoint or --weights, not both: each holds the weights to dream with.")
    folder = None if config.checkpoint or config.weights else saved_folder(config.model)
    if config.checkpoint:
        with warnings.catch_warnings():  # the checkpoint's weights replace the random ones
            warnings.filterwarnings("ignore", message=".*random weights.*")
            model = load_checkpoint_model(config.checkpoint, create)
    elif config.weights:
        model = load_with_weights(create, config.model, config.weights)
    elif folder is not None:
        model = load_saved_folder(create, folder)
    elif (entry := host.registry.entries["models"].get(config.model)) is not None:
        model = entry.target(pretrained=config.pretrained)
    else:
        model = load_architecture(host, config.model, pretrained=config.pretrained)
    return with_settings(model, config)


def apply_preset(host: PluginHost, config: RunConfig, name: str) -> RunConfig:
    """Return ``config`` with preset ``name``'s settings applied."""
    entry = host.registry.get("presets", name)
    return config.updated({**entry.target, "preset": name}, f"preset {name!r}")


def build_components(host: PluginHost, config: RunConfig) -> tuple:
    """Build the objective, regularizers, initializer, parametrization and strategies that ``config`` names."""
    specs = config.specs
    objective, penalties, terms = build_objective(host.registry, specs.objective, config.options)
    used = [*terms, *(spec.name for spec in (*specs.reg, specs.init, specs.param, *specs.strategy))]
    for name in config.options:
        if name not in used:
            raise DreamError(f"options were set for {name!r}, which this run does not use (it uses {', '.join(used)}).")

    def create(kind, spec):
        return host.registry.create(kind, spec, config.options.get(spec.name))

    return (
        objective,
        [create("regularizers", spec) for spec in specs.reg] + penalties,
        create("initializers", specs.init),
        create("parametrizations", specs.param),
        [create("strategies", spec) for spec in specs.strategy],
    )


def build_job(
    host: PluginHost, config: RunConfig, model: DreamModel, device: torch.device
) -> tuple[DreamJob, list[int]]:
    """Resolve every component of ``config`` and return the job with its class indices."""
    if config.optimizer not in OPTIMIZERS:
        raise unknown_name("optimizer", config.optimizer, OPTIMIZERS)
    check_options(
        ("--steps", config.steps, config.steps >= 1, "at least 1"),
        ("--lr", config.lr, 0 < config.lr < float("inf"), "above 0 and finite"),
        ("--save-every", config.save_every, config.save_every >= 0, "0 (off) or more"),
    )
    objective, regularizers, initializer, parametrization, strategies = build_components(host, config)
    if objective.needs_logits and not model.has_logits:
        raise DreamError(
            f"objective {config.objective!r} reads class logits, and {model.name} gives features, not logits: "
            "dream a layer, a channel or a neuron (layer:NAME, layer:NAME:CHANNEL, neuron:NAME:CHANNEL; "
            "`dreamengine layers` lists them)."
        )
    indices = class_indices(config, model, objective)
    for layer in objective.layers:
        model.layer(layer)
    height, width = dream_size(config.size, model.input_size, initializer.aspect())
    check_dream_size(height, width)
    warn_if_huge(strategies, model.input_size, height, width, len(indices))
    generator = torch.Generator().manual_seed(config.seed)
    image = initializer(len(indices), height, width, generator)
    warn_if_copies_stay_alike(config.init, objective, indices, image)
    model = accelerate(model.freeze().to(device), config)
    objective.prepare(model)  # on the network the loop runs, so that what it computes (a guide's features)
    # is the same in every run of these settings, whether the model is fresh or shared with earlier runs (a study)
    job = DreamJob(
        model=model,
        objective=objective,
        regularizers=regularizers,
        image=image.to(device),
        targets=torch.tensor(indices, device=device),
        steps=config.steps,
        lr=config.lr,
        optimizer=config.optimizer,
        generator=generator,
        save_every=config.save_every,
        parametrization=parametrization,
        strategies=strategies,
        attribute=config.attribution,
    )
    return job, indices


def start_file(registry: Registry, init: ComponentSpec, options: Mapping[str, Any] | None = None) -> Path | None:
    """The file the start ``init`` (with extra ``options``, as ``-s`` sets them) is made from, if any: what its
    initializer's :meth:`~dreamengine.Initializer.source` names (``--init photo:path=FILE``'s file)."""
    source = registry.create("initializers", init, options).source()
    return None if source is None else Path(str(source))


def dream_size(size: int | str | None, input_size: tuple[int, int], aspect: float | None) -> tuple[int, int]:
    """``(height, width)`` of a dream: ``WIDTHxHEIGHT`` as given; else ``N`` (default: the model's input size)
    square, or, for a start with an ``aspect`` (width / height, a photo's), as its longer side."""
    given = parse_size(size)
    if aspect is None or (size is not None and "x" in str(size).lower()):
        return given or input_size
    side = given[0] if given else max(input_size)
    return (side, max(1, round(side * aspect))) if aspect < 1 else (max(1, round(side / aspect)), side)


@dataclass
class PreparedRun:
    """A run resolved and ready to start: the job, the class index of each item, and the file its start is made
    from (:func:`start_file`), if any."""

    config: RunConfig
    job: DreamJob
    indices: list[int]
    start_file: Path | None = None


def dream_model(job: DreamJob) -> DreamModel:
    """The model of a job :func:`build_job` made: a :class:`DreamModel` (the contract's ``DreamJob`` names only the
    :class:`dreamengine.protocols.Model` a component sees; writing outputs needs the rest, its weights file)."""
    if not isinstance(job.model, DreamModel):
        raise TypeError(f"a prepared job holds a DreamModel, not {type(job.model).__name__}")
    return job.model


def prepare(host: PluginHost, config: RunConfig, model: DreamModel | None = None) -> PreparedRun:
    """Load the model (unless ``model`` is given: a module from Python, wrapped) and build every component; the
    slow, failure-prone part before the loop. ``config.threads``, where set, becomes torch's thread count
    (``None`` keeps it)."""
    check_output(config.output)
    if config.threads is not None:
        apply_threads(config.threads)
    device = resolve_device(config.device)
    model = model or load_model(host, config)
    job, indices = build_job(host, config, model, device)
    init = config.specs.init
    return PreparedRun(config, job, indices, start_file(host.registry, init, config.options.get(init.name)))
