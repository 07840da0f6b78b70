"""Running an atlas: the units not yet done, in batches, on an executor; the folder's plan; a measured estimate.

Re-running an atlas skips every unit already done with the same settings
(:func:`~dreamengine.atlas.units.unit_done`), so an interrupted atlas resumes and
loses nothing but the batches that were under way. An atlas folder made with
other settings is refused (:func:`open_folder`), never mixed. An executor
(:mod:`dreamengine.run.executors`) turns batches into bytes
(:class:`~dreamengine.atlas.work.AtlasWork`); this process writes every file as
each batch comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from dreamengine.atlas.folder import MARKER, AtlasLayer, atlas_folder, is_unit_file, read_atlas_json
from dreamengine.atlas.plan import AtlasPlan, Batch
from dreamengine.atlas.units import same_settings, unit_config, unit_done, write_batch
from dreamengine.atlas.work import AtlasWork
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.plugins import PluginHost
from dreamengine.run.execute import run_through_hooks, total_steps
from dreamengine.run.executors import Executor, LocalExecutor, finished
from dreamengine.run.prepare import build_job, resolve_device

__all__ = ["open_folder", "pending_units", "run_atlas", "Estimate", "estimate", "dream_steps"]


def open_folder(plan: AtlasPlan, *, restart: bool = False, write: bool = True) -> AtlasPlan:
    """Make ``plan``'s folder ready and write its ``atlas.json``; returns the plan as written.

    The folder must be missing, empty, or an atlas this command made (a
    user's folder is refused before anything is written: see
    :mod:`~dreamengine.atlas.folder`). A folder with an atlas of the same model
    and settings is resumed, and the layers and units it held are kept in the
    plan beside the new ones (an atlas grows layer by layer). One made with
    other settings is refused, unless ``restart``: then the units' files it wrote
    (on its list, never by folder) are deleted first. With ``write`` false (a dry
    run) nothing is deleted or written: the plan is only checked.
    """
    folder = atlas_folder(plan.output)
    existing = read_atlas_json(plan.output) if folder.check(marker=MARKER, remade=is_unit_file) else None
    if existing is not None and not _same_atlas(existing, plan):
        if not restart:
            raise DreamError(
                f"{str(plan.output)!r} holds an atlas made with other settings ({_difference(existing, plan)}): "
                "give another --output, the same settings, or --restart to delete its units and start over."
            )
        if write:
            folder.remove_written(keep=lambda relative: not is_unit_file(relative))
        existing = None
    if existing is not None:
        plan = replace(plan, layers=_merged(existing, plan))
    if write:
        plan.write()
    return plan


def _same_atlas(stored: dict, plan: AtlasPlan) -> bool:
    fresh = plan.to_json()
    keys = ("model", "weights", "checkpoint", "pretrained", "size", "variants")
    stored_settings = stored.get("settings")
    return (
        all(stored.get(key) == fresh[key] for key in keys)
        and isinstance(stored_settings, dict)
        and same_settings(stored_settings, plan.settings())
    )


def _difference(stored: dict, plan: AtlasPlan) -> str:
    """The first setting that differs, as ``name: before -> now``."""
    fresh = plan.to_json()
    before = {**(stored.get("settings") or {}), **{k: v for k, v in stored.items() if k != "settings"}}
    now = {**fresh["settings"], **{k: v for k, v in fresh.items() if k != "settings"}}
    for key in ("model", "checkpoint", "pretrained", "size", "variants", *fresh["settings"]):
        if key != "threads" and before.get(key) != now.get(key):
            return f"{key}: {before.get(key)!r} then, {now.get(key)!r} now"
    return "another layout"


def _merged(stored: dict, plan: AtlasPlan) -> list[AtlasLayer]:
    """The plan's layers with those of the atlas on disk: a layer in both holds the units of both."""
    new = {layer.name: layer for layer in plan.layers}
    merged = []
    for record in stored.get("layers") or []:
        name = record.get("name")
        earlier = tuple(int(unit) for unit in record.get("units") or [])
        if name in new:
            layer = new.pop(name)
            merged.append(replace(layer, units=tuple(sorted({*earlier, *layer.units}))))
        else:
            merged.append(replace(AtlasLayer.from_json(record), units=earlier))
    return merged + list(new.values())


def pending_units(plan: AtlasPlan, layers: Sequence[str] | None = None) -> dict[str, list[int]]:
    """The units of ``plan`` (of the ``layers`` named, if given) not yet done, by layer name."""
    todo = {}
    for layer in plan.layers:
        if layers is None or layer.name in layers:
            todo[layer.name] = [unit for unit in layer.units if not unit_done(plan, layer, unit)]
    return todo


def run_atlas(
    host: PluginHost,
    plan: AtlasPlan,
    batches: Sequence[Batch],
    executor: Executor | None = None,
    *,
    model: DreamModel | None = None,
    on_start: Callable[[Batch], None] | None = None,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    on_written: Callable[[Batch], None] | None = None,
) -> int:
    """Dream ``batches`` on ``executor`` (default: this process) and write each as it comes back, then call
    ``on_written(batch)``. ``model`` (the plan's, already loaded), ``on_start(batch)`` and ``on_step(step,
    scores)`` serve the batches dreamt in this process (see :class:`~dreamengine.atlas.work.AtlasWork`).
    Returns how many units were written."""
    written = 0
    work = AtlasWork(host, plan, model, on_start, on_step)
    with finished(executor or LocalExecutor(), list(batches), work) as results:  # closed: no batch left running
        for _, output in results:
            write_batch(host, plan, output)
            written += len(output.batch.units)
            if on_written is not None:
                on_written(output.batch)
    return written


@dataclass(frozen=True)
class Estimate:
    """What the atlas's batches will take, from measured steps.

    Attributes:
        seconds: the estimated time of every batch (and the variants).
        step_seconds: the measured time of one step of a full batch, by layer name measured.
        steps: the steps each batch takes (under the strategies: octaves, ...).
    """

    seconds: float
    step_seconds: dict[str, float]
    steps: int


#: the probe runs of a layer's full batch, in steps: the first warms up (the math library plans each new shape
#: the first time it meets it, and these are every octave's shapes); of the other two, a step's cost is the
#: difference of their times over the difference of their steps, so what every run pays once (building the job,
#: each octave's first step) cancels, and the steps are shared among the octaves as in the atlas's runs
PROBE_STEPS = (3, 6, 12)


def estimate(host: PluginHost, plan: AtlasPlan, batches: Sequence[Batch], model: DreamModel) -> Estimate:
    """Estimate the time ``batches`` take: a full batch of the cheapest and of the dearest layer is measured
    (:data:`PROBE_STEPS`), a batch's step time drawn as a line through them by each layer's cost
    (:attr:`AtlasLayer.cost`), in proportion to its units; the variants' runs are counted the same way."""
    if not batches:
        return Estimate(0.0, {}, 0)
    layers = sorted({batch.layer for batch in batches}, key=lambda layer: layer.cost)
    probes = {layer.name: _step_seconds(host, plan, layer, model) for layer in dict.fromkeys((layers[0], layers[-1]))}
    low, high = layers[0], layers[-1]
    slope = (probes[high.name] - probes[low.name]) / (high.cost - low.cost) if high.cost > low.cost else 0.0
    job_steps = dream_steps(host, plan, model)
    seconds = 0.0
    for batch in batches:
        per_step = probes[low.name] + slope * (batch.layer.cost - low.cost)
        seconds += per_step * job_steps * len(batch.units) * (1 + plan.variants) / plan.batch
    return Estimate(seconds, probes, job_steps)


def _step_seconds(host: PluginHost, plan: AtlasPlan, layer: AtlasLayer, model: DreamModel) -> float:
    """The measured time of one step of a full batch of ``layer``'s first units (see :data:`PROBE_STEPS`)."""
    units = [layer.units[i % len(layer.units)] for i in range(plan.batch)]
    timed = []
    for steps in PROBE_STEPS:
        config = unit_config(plan, layer, units).updated({"steps": steps}, "the estimate")
        job, _ = build_job(host, config, model, resolve_device(config.device))
        started = time.perf_counter()
        run_through_hooks(host, job)
        timed.append((total_steps(job), time.perf_counter() - started))
    (few, shorter), (more, longer) = timed[-2:]
    if longer <= shorter or more <= few:  # noise beat the difference: the longer run's mean step
        return longer / max(1, more)
    return (longer - shorter) / (more - few)


def dream_steps(host: PluginHost, plan: AtlasPlan, model: DreamModel) -> int:
    """The steps each of the atlas's dreams takes, under its strategies (what a batch's progress bar counts to)."""
    layer = plan.layers[0]
    job, _ = build_job(host, unit_config(plan, layer, layer.units[:1]), model, resolve_device(plan.base.device))
    return total_steps(job)
