"""A tiny model to dream with in tests."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from dreamengine.engine.model import DreamModel

__all__ = ["TINY_LAYERS", "tiny_model"]

#: Module names of :func:`tiny_model`, in forward order; use them as ``layer`` options.
TINY_LAYERS = ("conv1", "relu1", "conv2", "relu2", "pool", "flatten", "head")


def tiny_model(num_classes: int = 4) -> DreamModel:
    """A small frozen CNN with random (but always the same) weights, for fast tests.

    Its modules are named as in :data:`TINY_LAYERS`; its input size is 16x16.
    The global random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(
            OrderedDict(
                zip(
                    TINY_LAYERS,
                    (
                        nn.Conv2d(3, 8, 3, padding=1),
                        nn.ReLU(),
                        nn.Conv2d(8, 16, 3, stride=2, padding=1),
                        nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(),
                        nn.Linear(16, num_classes),
                    ),
                    strict=True,
                )
            )
        )
    net.num_classes = num_classes
    names = [f"class{i}" for i in range(num_classes)]
    return DreamModel(net, name="tiny", input_size=(16, 16), class_names=names).freeze()
