"""The ``tile`` strategy: dreams far larger than the network's input, in bounded memory.

Each step renders the full image once, rolls it by a random offset (so tile
seams fall somewhere new every step), and runs the engine's
:meth:`~dreamengine.DreamLoop.climb` (transforms, forward, objective, penalties,
backward) on one tile at a time, each a detached copy: only one tile's graph
exists at a time, whatever the image's size. The tiles' gradients are gathered
into one full-size gradient (averaged where tiles overlap), rolled back and sent
through the gradient filters into the parametrization in a single backward;
the rest of the step (the optimizer step, the projections on the full image) is
the engine's own. Every tile has the same shape, so the network's input shape
never changes. The tiled job goes through the ``dreamengine_run_dream`` hook
like any other, so a plugin that wraps that hook sees it.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import torch

from dreamengine import DreamJob, DreamLoop, Strategy, hookimpl

__all__ = ["tile_origins", "Tile", "TiledLoop"]


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
        return loop(dataclasses.replace(job, make_loop=functools.partial(TiledLoop, size=self.size)))


class TiledLoop(DreamLoop):
    """The engine's loop, each step's gradient found tile by tile (tiles of ``size``, or the model's input size)."""

    def __init__(self, job: DreamJob, size: int | None = None) -> None:
        super().__init__(job)
        height, width = job.image.shape[-2:]
        tile_h, tile_w = (size, size) if size else job.model.input_size
        self.tile = (min(tile_h, height), min(tile_w, width))
        self.origins = [(y, x) for y in tile_origins(height, tile_h) for x in tile_origins(width, tile_w)]

    def climb(self, image: torch.Tensor, activations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Backpropagate each tile's loss into ``image``; returns the mean objective of each item over the tiles."""
        height, width = image.shape[-2:]
        dy = int(torch.randint(height, (), generator=self.job.generator))
        dx = int(torch.randint(width, (), generator=self.job.generator))
        rolled = torch.roll(image.detach(), shifts=(dy, dx), dims=(-2, -1))
        grad, count = torch.zeros_like(rolled), rolled.new_zeros((1, 1, height, width))
        total = rolled.new_zeros(rolled.shape[0])
        for y, x in self.origins:
            window = (..., slice(y, y + self.tile[0]), slice(x, x + self.tile[1]))
            tile = rolled[window].clone().requires_grad_(True)  # a detached copy: its graph is freed after climb
            total += super().climb(tile, activations)
            assert tile.grad is not None  # climb ran backward through the tile
            grad[window] += tile.grad
            count[window] += 1
        image.backward(torch.roll(grad / count, shifts=(-dy, -dx), dims=(-2, -1)))
        return total / len(self.origins)


@hookimpl
def dreamengine_register_strategies(register):
    """Register ``tile``."""
    register("tile", Tile)
