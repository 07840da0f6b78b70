"""From settings to files: resolve a RunConfig into a DreamJob, run it, write the dreams."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .acceleration import accelerate
from .batch import class_indices, run_items, warn_if_copies_stay_alike, warn_if_huge
from .checkpoint import load_checkpoint_model
from .classes import display_name
from .config import RunConfig, parse_size
from .engine import OPTIMIZERS, DreamJob, DreamResult
from .errors import DreamError, DreamInterrupted, check_options, unknown_name
from .expressions import PerItemObjective, build_objective
from .model import DreamModel
from .options import parse_spec, parse_spec_list
from .outputs import check_output, write_outputs
from .plugins import PluginHost

__all__ = ["RunOutcome", "PreparedRun", "resolve_device", "load_architecture", "load_model",
           "apply_preset", "build_components",
           "build_job", "prepare", "run_through_hooks", "total_steps", "execute", "dream"]


@dataclass
class RunOutcome:
    """What a run produced: the result, the files written and the name of each target."""

    result: DreamResult
    paths: list[Path]
    targets: list[str]


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
        raise DreamError(f"--device {name} was asked for, but there are {count} CUDA devices here "
                         f"(cuda:0 to cuda:{count - 1}).")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DreamError("--device mps was asked for, but MPS is not available here.")
    return device


def load_model(host: PluginHost, config: RunConfig) -> DreamModel:
    """The model a config names: a checkpoint, a registered model, or one a loader plugin provides.

    Random initial weights are drawn under ``config.seed``, so even an untrained
    model dreams the same bytes twice.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return _load_model(host, config)


def load_architecture(host: PluginHost, name: str, *, pretrained: bool = False,
                      num_classes: int | None = None) -> DreamModel:
    """A model by architecture name from the ``dreamengine_load_model`` hook (timm's loader runs last)."""
    model = host.hook.dreamengine_load_model(name=name, pretrained=pretrained, num_classes=num_classes)
    if model is None:
        raise unknown_name("model", name, host.registry.names("models"))
    return model


def _load_model(host: PluginHost, config: RunConfig) -> DreamModel:
    if config.checkpoint:
        with warnings.catch_warnings():  # the checkpoint's weights replace the random ones
            warnings.filterwarnings("ignore", message=".*random weights.*")
            return load_checkpoint_model(
                config.checkpoint, lambda name, num_classes: load_architecture(host, name, num_classes=num_classes))
    entry = host.registry.entries["models"].get(config.model)
    if entry is not None:
        return entry.target(pretrained=config.pretrained)
    return load_architecture(host, config.model, pretrained=config.pretrained)


def apply_preset(host: PluginHost, config: RunConfig, name: str) -> RunConfig:
    """Return ``config`` with preset ``name``'s settings applied."""
    entry = host.registry.get("presets", name)
    return config.updated({**entry.target, "preset": name}, f"preset {name!r}")


def build_components(host: PluginHost, config: RunConfig) -> tuple:
    """Build the objective, regularizers, initializer, parametrization and strategies that ``config`` names."""
    regs, strategies = parse_spec_list(config.reg), parse_spec_list(config.strategy)
    init, param = (parse_spec(text) for text in (config.init, config.param))
    objective, penalties, terms = build_objective(host.registry, config.objective, config.options)
    used = [*terms, *(spec.name for spec in (*regs, init, param, *strategies))]
    for name in config.options:
        if name not in used:
            raise DreamError(f"options were set for {name!r}, which this run does not use (it uses {', '.join(used)}).")

    def create(kind, spec):
        return host.registry.create(kind, spec, config.options.get(spec.name))

    return (objective, [create("regularizers", spec) for spec in regs] + penalties,
            create("initializers", init), create("parametrizations", param),
            [create("strategies", spec) for spec in strategies])


def build_job(host: PluginHost, config: RunConfig, model: DreamModel,
              device: torch.device) -> tuple[DreamJob, list[int]]:
    """Resolve every component of ``config`` and return the job with its class indices."""
    if config.optimizer not in OPTIMIZERS:
        raise unknown_name("optimizer", config.optimizer, OPTIMIZERS)
    check_options(("--steps", config.steps, config.steps >= 1, "at least 1"),
                  ("--lr", config.lr, 0 < config.lr < float("inf"), "above 0 and finite"),
                  ("--save-every", config.save_every, config.save_every >= 0, "0 (off) or more"))
    objective, regularizers, initializer, parametrization, strategies = build_components(host, config)
    indices = class_indices(config, model, objective)
    for layer in objective.layers:
        model.layer(layer)
    height, width = dream_size(config.size, model.input_size, initializer.aspect())
    if height < 8 or width < 8:
        raise DreamError(f"the dream size must be at least 8 pixels, got {width}x{height} (width x height).")
    warn_if_huge(config, model, height, width, len(indices))
    generator = torch.Generator().manual_seed(config.seed)
    image = initializer(len(indices), height, width, generator)
    warn_if_copies_stay_alike(config, objective, indices, image)
    model = accelerate(model.freeze().to(device), config)
    objective.prepare(model)  # on the network the loop runs, so that what it computes (a guide's features)
    # is the same in every run of these settings, whether the model is fresh or shared with earlier runs (a study)
    job = DreamJob(model=model, objective=objective, regularizers=regularizers, image=image.to(device),
                   targets=torch.tensor(indices, device=device), steps=config.steps, lr=config.lr,
                   optimizer=config.optimizer, generator=generator, save_every=config.save_every,
                   parametrization=parametrization, strategies=strategies)
    return job, indices


def start_photo(config: RunConfig) -> Path | None:
    """The file a ``photo`` start reads (``--init photo:path=FILE`` or ``photo:FILE``, or ``-s photo.path=FILE``),
    if the run starts from one."""
    spec = parse_spec(config.init)
    if spec.name != "photo":
        return None
    path = (config.options.get("photo", {}).get("path") or spec.options.get("path")
            or next(iter(spec.positional), None))
    return None if path is None else Path(str(path))


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
    """A run resolved and ready to start: the job and the class index of each item."""

    config: RunConfig
    job: DreamJob
    indices: list[int]


def prepare(host: PluginHost, config: RunConfig) -> PreparedRun:
    """Load the model and build every component; the slow, failure-prone part before the loop."""
    check_output(config)
    device = resolve_device(config.device)
    model = load_model(host, config)
    job, indices = build_job(host, config, model, device)
    return PreparedRun(config, job, indices)


def execute(host: PluginHost, run: PreparedRun) -> RunOutcome:
    """Run a prepared job through the ``dreamengine_run_dream`` hook and write its files.

    Interrupted (Ctrl-C) after some steps, it writes the dream so far, at the
    asked size and marked as interrupted, and re-raises the
    :class:`~dreamengine.DreamInterrupted` with its ``paths``.
    """
    job, config = run.job, run.config
    items = run_items(config, job.objective)
    targets = [index if item.objective.uses_classes else None for index, item in zip(run.indices, items)]
    names = [display_name(job.model.class_names, index) if index is not None
             else _unclassed_name(config, item.objective_text) for index, item in zip(targets, items)]
    parts = [item.objective_text for item in items] if isinstance(job.objective, PerItemObjective) else None
    counter = _StepCounter(job.on_step)
    job.on_step = counter
    try:
        result = run_through_hooks(host, job)
    except DreamInterrupted as stop:
        stop.result = _as_asked(stop.result, job, counter.last or stop.result.steps_done)
        if stop.result.steps_done:
            stop.paths = write_outputs(config, job.model, stop.result, targets, names, parts)
        raise
    paths = write_outputs(config, job.model, result, targets, names, parts)
    host.hook.dreamengine_run_end(config=config, result=result, paths=paths)
    return RunOutcome(result, paths, names)


def _unclassed_name(config: RunConfig, objective: str) -> str:
    """What to call a dream toward no class: its objective, after the photo it starts from (``cat layer:blocks.4``);
    a file the objective reads is named without its folders (``guide:blocks.4:path=flowers.jpg``)."""
    photo = start_photo(config)
    objective = re.sub(r"[^\s:=,;+*()]*[/\\]", "", objective)
    return objective if photo is None else f"{photo.stem} {objective}"


class _StepCounter:
    """An ``on_step`` callback that remembers the last step reported and passes it on."""

    def __init__(self, on_step: Callable[[int, torch.Tensor], None] | None) -> None:
        self.on_step = on_step
        self.last = 0

    def __call__(self, step: int, scores: torch.Tensor) -> None:
        self.last = step
        if self.on_step is not None:
            self.on_step(step, scores)


def _as_asked(partial: DreamResult, job: DreamJob, steps_done: int) -> DreamResult:
    """An interrupted strategy's inner result as the whole job's: resized to the job's size, its steps counted
    over the whole run (as the progress showed them), without the inner loop's frames."""
    image = partial.image
    if image.shape[-2:] != job.image.shape[-2:]:
        image = F.interpolate(image, size=tuple(job.image.shape[-2:]), mode="bilinear", align_corners=False)
    return replace(partial, image=image, steps_done=steps_done, frames=[], interrupted=True)


def run_through_hooks(host: PluginHost, job: DreamJob) -> DreamResult:
    """Run ``job`` with the ``dreamengine_run_dream`` hook, calling ``dreamengine_step_end`` observers if any.

    A run that diverges before its first step has nothing to keep: that is an error.
    """
    if host.hook.dreamengine_step_end.get_hookimpls():
        job.on_step = _with_step_hook(host, job, job.on_step)
    result = _nest(job.strategies, lambda inner: host.hook.dreamengine_run_dream(job=inner))(job)
    if result.diverged and result.steps_done == 0:
        raise DreamError(result.diverged)
    return result


def _nest(strategies, loop: Callable[[DreamJob], DreamResult]) -> Callable[[DreamJob], DreamResult]:
    """``loop`` wrapped in each strategy, the first outermost."""
    for strategy in reversed(strategies):
        loop = functools.partial(strategy.run, loop=loop)
    return loop


def total_steps(job: DreamJob) -> int:
    """The steps ``job`` takes under its strategies (what a progress bar counts to)."""
    steps = job.steps
    for strategy in reversed(job.strategies):
        steps = strategy.total_steps(steps)
    return steps


def dream(host: PluginHost, config: RunConfig, on_step: Callable[[int, torch.Tensor], None] | None = None) -> RunOutcome:
    """Run ``config`` and write its files; returns what was made."""
    run = prepare(host, config)
    run.job.on_step = on_step
    return execute(host, run)


def _with_step_hook(host: PluginHost, job: DreamJob, on_step):
    def step_end(step: int, scores: torch.Tensor) -> None:
        if on_step is not None:
            on_step(step, scores)
        host.hook.dreamengine_step_end(job=job, step=step, scores=scores)
    return step_end
