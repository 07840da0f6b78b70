"""Warnings given before a run starts: dreams that would stay alike, or that hold far more memory than tiles."""

from __future__ import annotations

import warnings

import pytest
import torch

from dreamengine import RunConfig
from dreamengine.dreaming import build_job
from dreamengine.testing import make_host, tiny_model


@pytest.mark.parametrize("classes, init, objective, warned", [
    (["1", "1"], "gray", "logit + 10*diversity:relu1", True),   # would stay two identical dreams
    (["1", "1"], "noise", "logit + 10*diversity:relu1", False),  # start apart: the term has a gradient
    (["1", "2"], "gray", "logit + 10*diversity:relu1", False),  # the classes pull them apart
    (["1", "1"], "gray", "logit", False),                       # no term compares the items
])
def test_a_diversity_term_over_identical_starts_is_warned_of(classes, init, objective, warned):
    config = RunConfig(size=16, steps=1, classes=classes, init=init, objective=objective)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_job(make_host(), config, tiny_model(), torch.device("cpu"))
    messages = [str(w.message) for w in caught if "compares the batch's dreams" in str(w.message)]
    assert messages == ([f"the objective compares the batch's dreams with each other, but dreams of the same class "
                         f"start from the same image (--init {init}): they get the same gradients and stay the same. "
                         "Start them apart, e.g. --init noise."] if warned else [])


@pytest.mark.parametrize("size, strategy, warned", [(100, [], True), (100, ["tile"], False), (64, [], False)])
def test_a_dream_far_above_the_networks_input_without_tiles_is_warned_of_its_memory(size, strategy, warned):
    model = tiny_model()
    assert model.input_size == (16, 16)  # 100x100 is 39x its pixels, 64x64 16x
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_job(make_host(), RunConfig(size=size, steps=1, classes=["1"], strategy=strategy), model,
                  torch.device("cpu"))
    messages = [str(w.message) for w in caught if "tile by tile" in str(w.message)]
    assert len(messages) == warned and all(m.startswith("this dream runs the network on 39x the pixels") for m in messages)
