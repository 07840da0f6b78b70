"""What an atlas does with one batch of units, wherever it runs: dream it and encode it.

:class:`AtlasWork` is the work an executor (:mod:`dreamengine.run.executors`:
this process, a Ray cluster, a plugin's) runs for each batch; the driver,
:func:`~dreamengine.atlas.runner.run_atlas`, writes every file from the results.
A batch is a pure function of its settings, so a batch dreamt again (a Ray
worker that died) makes the same bytes, as this process would make them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import ClassVar

import torch

from dreamengine.atlas.plan import AtlasPlan, Batch
from dreamengine.atlas.units import BatchOutput, dream_batch, unit_config
from dreamengine.engine.model import DreamModel
from dreamengine.plugins import PluginHost
from dreamengine.run.config import RunConfig
from dreamengine.run.executors import HostWork
from dreamengine.run.inputs import files_read, reading_from
from dreamengine.run.own_model import read_class_names
from dreamengine.run.prepare import load_model
from dreamengine.run.ray_cluster import names_copy

__all__ = ["AtlasWork"]

#: the model this worker process loaded last, by the settings that name it: batches of one atlas share it
_LOADED: dict[str, DreamModel] = {}


class AtlasWork(HostWork[Batch, BatchOutput]):
    """A batch of units (and their variants) dreamt with the plan's model: its :class:`BatchOutput`.

    ``model``, if given, is the one the plan names (it saves loading it again);
    in this process ``on_start(batch)`` is called before each batch and
    ``on_step(step, scores)`` after each dream step (for progress bars). None of
    them travels to another process, which loads the model once for its batches.
    """

    local_only: ClassVar[tuple[str, ...]] = ("_host", "model", "on_start", "on_step")

    def __init__(
        self,
        host: PluginHost,
        plan: AtlasPlan,
        model: DreamModel | None = None,
        on_start: Callable[[Batch], None] | None = None,
        on_step: Callable[[int, torch.Tensor], None] | None = None,
    ) -> None:
        super().__init__(host)
        self.plan, self.model, self.on_start, self.on_step = plan, model, on_start, on_step
        self.device = plan.base.device
        names = plan.base.class_names
        self.class_names = read_class_names(names) if names else None  # read here, sent as values

    def __repr__(self) -> str:
        return f"AtlasWork({str(self.plan.output)!r})"

    def __call__(self, batch: Batch) -> BatchOutput:
        if self.on_start is not None:
            self.on_start(batch)
        self.model = self.model or load_model(self.host, self.plan.base)
        return dream_batch(self.host, self.plan, batch, self.model, self.on_step)

    def reads(self, batch: Batch) -> list[str]:
        files = files_read(self.host.registry, unit_config(self.plan, batch.layer, batch.units))
        return [*(path for path in (self.plan.base.checkpoint, self.plan.base.weights) if path), *files]

    def describe(self, batch: Batch) -> str:
        return f"units {batch.units[0]}-{batch.units[-1]} of layer {batch.layer.name!r}"

    def elsewhere(self, batch: Batch, copies: Mapping[str, str], threads: float) -> BatchOutput:
        """The batch dreamt from copies of the files it reads (the checkpoint or weights file among them) and the
        class names as the driver read them; the manifests keep the driver's paths."""
        torch.set_num_threads(max(1, int(threads)))

        def local(config: RunConfig) -> RunConfig:
            given = {key: copies[path] for key in ("checkpoint", "weights") if (path := getattr(config, key))}
            if config.class_names and self.class_names is not None:
                given["class_names"] = str(names_copy(self.class_names))
            return reading_from(config.updated(given, "the Ray worker"), copies)

        key = json.dumps([self.plan.base.to_dict(), sorted(copies.items())], sort_keys=True, default=str)
        if key not in _LOADED:
            _LOADED.clear()
            _LOADED[key] = load_model(self.host, local(self.plan.base))
        return dream_batch(self.host, self.plan, batch, _LOADED[key], local=local)
