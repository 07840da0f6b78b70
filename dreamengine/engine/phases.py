"""How a step applies each phase of its regularizers: the transforms before the forward (warps composed into
one resample), the gradient filters on the way back, the projections after the optimizer step."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from dreamengine.components import PHASES, Parametrization, Regularizer
from dreamengine.warping import IDENTITY, Warp, compose, resample

__all__ = ["Transform", "by_phase", "compose_transforms", "filter_gradient", "project"]

#: a step's transform phase: ``(image, generator) -> image``, differentiable
Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def by_phase(regularizers: Sequence[Regularizer]) -> dict[str, list[Regularizer]]:
    """The regularizers acting in each phase (``transform``, ``penalty``, ``gradient``, ``project``), in order."""
    phases = [(r, r.phases()) for r in regularizers]
    return {phase: [r for r, p in phases if phase in p] for phase in PHASES}


def compose_transforms(regularizers: Sequence[Regularizer]) -> Transform:
    """One callable ``(image, generator) -> image`` for the transform phase of ``regularizers``, in order.

    Consecutive regularizers that define :meth:`~dreamengine.Regularizer.warp`
    are drawn in order and applied as one resample; the others call their
    :meth:`~dreamengine.Regularizer.transform`.
    """
    stages: list[Regularizer | list[Regularizer]] = []
    for regularizer in regularizers:
        if not regularizer.warps():
            stages.append(regularizer)
        elif stages and isinstance(stages[-1], list):
            stages[-1].append(regularizer)
        else:
            stages.append([regularizer])

    def transform(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for stage in stages:
            if isinstance(stage, list):
                image = resample(image, _draw(stage, generator, *image.shape[-2:]))
            else:
                image = stage.transform(image, generator)
        return image

    return transform


def _draw(warping: Sequence[Regularizer], generator: torch.Generator, height: int, width: int) -> Warp:
    """This step's composed warp of ``warping``, each drawn in order (as they would draw one by one)."""
    total = IDENTITY
    for regularizer in warping:
        warp = regularizer.warp(generator, height, width)
        if warp is not None:
            total = compose(total, warp)
    return total


def filter_gradient(image: torch.Tensor, regularizers: Sequence[Regularizer]) -> torch.Tensor:
    """``image`` itself, but the gradient flowing back through it passes each regularizer's ``gradient`` phase."""
    if not regularizers:
        return image
    image = image.view_as(image)  # a fresh non-leaf each step, so hooks never pile up on the parameter

    def hook(grad: torch.Tensor) -> torch.Tensor:
        for regularizer in regularizers:
            grad = regularizer.gradient(grad)
        return grad

    image.register_hook(hook)
    return image


def project(param: Parametrization, projections: Sequence[Regularizer], generator: torch.Generator) -> torch.Tensor:
    """Apply the projections to the rendered image, store it back, and return it."""
    image = param.image()
    if projections:
        for regularizer in projections:
            image = regularizer.project(image, generator)
        param.assign(image)
    return image
