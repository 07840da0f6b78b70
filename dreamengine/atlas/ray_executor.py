"""Dream an atlas's batches on a Ray cluster (``dreamengine atlas --executor ray [--address ADDRESS]``).

Each batch of units is a Ray task asking for ``num_cpus`` and, where the
cluster has GPUs and the atlas's device is not ``cpu``, one GPU. The plan, the
checkpoint's bytes and those of every other file the dreams read go to Ray's
object store once; each worker keeps the model loaded between its batches. A
batch's PNG, thumbnail and activation come back to the driver, which writes
them as they arrive (no shared filesystem). A batch is a pure function of its
settings, so a worker that dies mid-batch is replaced and the batch dreamt
again (``max_retries``) with the same bytes, as this process would make them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dreamengine.atlas.plan import AtlasPlan, Batch
from dreamengine.atlas.units import BatchOutput, dream_batch, unit_config
from dreamengine.engine.model import DreamModel
from dreamengine.plugins import PluginHost
from dreamengine.run.config import RunConfig
from dreamengine.run.inputs import files_read, reading_from
from dreamengine.run.prepare import load_model
from dreamengine.run.ray_cluster import RayTasks, local_copy, read_for_workers, task_result, worker_host

if TYPE_CHECKING:
    from dreamengine.atlas.runner import Finished

__all__ = ["RayAtlasExecutor"]


class RayAtlasExecutor(RayTasks):
    """Batches as Ray tasks on the cluster at ``address``, or on a Ray of ``workers`` processes started here."""

    def run(self, host: PluginHost, plan: AtlasPlan, batches: Sequence[Batch]) -> Finished:
        if not batches:
            return
        for ray, ref, batch in self._as_done(lambda ray: self._submit(ray, host, plan, batches)):
            yield _result(ray, ref, batch)

    def _submit(self, ray: Any, host: PluginHost, plan: AtlasPlan, batches: Sequence[Batch]) -> dict[Any, Batch]:
        remote = self._remote(ray, _dream_batch, plan.base.device)
        plugins = (host.entry_points, host.blocked)  # workers load the plugins the driver chose
        first = batches[0]
        paths = files_read(host.registry, unit_config(plan, first.layer, first.units))
        if plan.base.checkpoint:
            paths.insert(0, plan.base.checkpoint)
        shipped = [(text, read_for_workers(Path(text))) for text in paths]
        names = [(text, f"{hashlib.sha256(data).hexdigest()}{Path(text).suffix}") for text, data in shipped]
        plan_ref = ray.put(plan)
        contents = [ray.put(data) for _, data in shipped]
        return {
            remote.remote(plugins, plan_ref, batch, names, self.cpus_per_task, *contents): batch for batch in batches
        }


def _result(ray: Any, ref: Any, batch: Batch) -> BatchOutput:
    """A batch's output; a DreamError raised on a worker comes back as itself."""
    return task_result(ray, ref, f"units {batch.units[0]}-{batch.units[-1]} of layer {batch.layer.name!r}")


#: the model this worker process loaded last, by the settings that name it: batches of one atlas share it
_LOADED: dict[str, DreamModel] = {}


def _dream_batch(
    plugins: tuple[bool, tuple[str, ...]],
    plan: AtlasPlan,
    batch: Batch,
    files: list[tuple[str, str]],
    threads: float,
    *contents: bytes,
) -> BatchOutput:
    """The Ray task: one batch, dreamt from the bytes of the files it reads (the checkpoint, a start photo),
    not their paths, which are the driver's: ``files`` holds each file's text in the settings and its local name
    (its SHA-256 and suffix), ``contents`` their bytes, in order. The manifests keep the driver's paths."""
    torch.set_num_threads(max(1, int(threads)))
    host = worker_host(plugins)
    copies = {text: str(local_copy(data, name)) for (text, name), data in zip(files, contents, strict=True)}

    def local(config: RunConfig) -> RunConfig:
        checkpoint = {"checkpoint": copies[config.checkpoint]} if config.checkpoint else {}
        return reading_from(config.updated(checkpoint, "the Ray worker"), copies)

    key = json.dumps([plan.base.to_dict(), files], sort_keys=True, default=str)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_model(host, local(plan.base))
    return dream_batch(host, plan, batch, _LOADED[key], local=local)
