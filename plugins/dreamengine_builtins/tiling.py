"""The ``tile`` strategy: dreams far larger than the network's input, in bounded memory.

Each step renders the full image once, rolls it by a random offset (so tile
seams fall somewhere new every step), and runs the network's forward and
backward on one tile at a time, each a detached copy: only one tile's graph
exists at a time, whatever the image's size. The tiles' gradients are gathered
into one full-size gradient (averaged where tiles overlap), rolled back, passed
through the gradient filters, and sent through the parametrization in a single
backward; then one optimizer step and the projections on the full image.
Every tile has the same shape, so the network's input shape never changes.
"""

from __future__ import annotations

import math

import torch

from dreamengine import (
    OPTIMIZERS,
    DreamJob,
    DreamOutputs,
    DreamResult,
    PixelParametrization,
    Strategy,
    compose_transforms,
    hookimpl,
    regularizers_by_phase,
    run_steps,
)

__all__ = ["tile_origins", "Tile"]


def tile_origins(length: int, tile: int) -> list[int]:
    """Start offsets of the fewest tiles of ``tile`` pixels covering ``length``, evenly spread (the last may
    overlap)."""
    tile = min(tile, length)
    count = math.ceil(length / tile)
    if count == 1:
        return [0]
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


class Tile(Strategy):
    """Dream tile by tile at the network's input size (or ``size``), for images far larger than it.

    Memory holds the full image, its gradient and the optimizer's state, plus
    the graph of one tile. Random shifts each step hide the seams.
    """

    bounds_memory = True

    def __init__(self, size: int | None = None) -> None:
        if size is not None and size < 8:
            raise ValueError(f"size must be at least 8, got {size}")
        self.size = size

    def run(self, job, loop):
        return _TiledLoop(job, self.size).run()


class _TiledLoop:
    """The state of one tiled run."""

    def __init__(self, job: DreamJob, size: int | None) -> None:
        self.job = job
        height, width = job.image.shape[-2:]
        tile_h, tile_w = (size, size) if size else job.model.input_size
        self.tile = (min(tile_h, height), min(tile_w, width))
        self.origins = [(y, x) for y in tile_origins(height, tile_h) for x in tile_origins(width, tile_w)]
        self.param = job.parametrization or PixelParametrization()
        self.optimizer = OPTIMIZERS[job.optimizer](self.param.setup(job.image.detach()), lr=job.lr)
        self.by_phase = regularizers_by_phase(job.regularizers)
        self.transform = compose_transforms(self.by_phase["transform"])

    def run(self) -> DreamResult:
        return run_steps(self.job, self.param, self.step)

    def step(self, activations: dict[str, torch.Tensor]) -> torch.Tensor:
        """One optimizer step over all tiles; returns the mean objective of each item over the tiles."""
        job = self.job
        image = self.param.image()
        height, width = image.shape[-2:]
        dy = int(torch.randint(height, (), generator=job.generator))
        dx = int(torch.randint(width, (), generator=job.generator))
        rolled = torch.roll(image.detach(), shifts=(dy, dx), dims=(-2, -1))
        grad, count = torch.zeros_like(rolled), rolled.new_zeros((1, 1, height, width))
        total = rolled.new_zeros(rolled.shape[0])
        for y, x in self.origins:
            window = (..., slice(y, y + self.tile[0]), slice(x, x + self.tile[1]))
            tile_grad, score = self.tile_gradient(rolled[window], activations)
            grad[window] += tile_grad
            count[window] += 1
            total += score
        grad = torch.roll(grad / count, shifts=(-dy, -dx), dims=(-2, -1))
        for regularizer in self.by_phase["gradient"]:
            grad = regularizer.gradient(grad)
        self.optimizer.zero_grad(set_to_none=True)
        image.backward(grad)
        self.optimizer.step()
        return total / len(self.origins)

    def tile_gradient(self, tile: torch.Tensor, activations) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient of the loss w.r.t. one tile (a detached copy: its graph is freed on return) and its score."""
        job = self.job
        leaf = tile.clone().requires_grad_(True)
        view = self.transform(leaf, job.generator)
        score = job.objective(DreamOutputs(job.model(view), job.targets, activations))
        objective = score
        for regularizer in self.by_phase["penalty"]:
            objective = objective - regularizer.penalty(view)
        (-objective.sum()).backward()
        return leaf.grad, score.detach()


@hookimpl
def dreamengine_register_strategies(register):
    """Register ``tile``."""
    register("tile", Tile)
