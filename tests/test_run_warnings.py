"""Warnings given before a run starts: dreams that would stay alike, or that would hold far too much memory."""

from __future__ import annotations

import warnings

import pytest
import torch

from dreamengine import RunConfig
from dreamengine.run.execute import run_through_hooks
from dreamengine.run.prepare import build_job
from dreamengine.testing import make_host, tiny_model

COMPARED = (
    "the objective compares the batch's dreams with each other, but dreams of the same class start from "
    "the same image (--init gray): they get the same gradients and stay the same."
)
NO_CLASS = (
    "the objective reads no --class, so the batch's 2 dreams are copies of one: they start from the same "
    "image (--init gray) and share every random draw, so they come out identical."
)
COPIES = (
    "a class is dreamed more than once, but its copies start from the same image (--init gray) and share "
    "every random draw, so they come out identical."
)


@pytest.mark.parametrize(
    "classes, init, objective, why",
    [
        (["1", "1"], "gray", "logit + 10*diversity:relu1", COMPARED),  # would stay two identical dreams
        (["1", "1"], "gray", "logit", COPIES),  # two identical dreams for the price of two
        (["1", "1"], "noise", "logit + 10*diversity:relu1", None),  # start apart: the term has a gradient
        (["1", "1"], "noise", "logit", None),  # start apart: two variations
        (["1", "2"], "gray", "logit + 10*diversity:relu1", None),  # the classes pull them apart
        (["1", "2"], "gray", "layer:relu1", NO_CLASS),  # the objective ignores the classes
        (["1", "2"], "noise", "layer:relu1", None),
    ],
)
def test_copies_of_a_class_from_the_same_start_are_warned_of(classes, init, objective, why):
    config = RunConfig(size=16, steps=1, classes=classes, init=init, objective=objective)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_job(make_host(), config, tiny_model(), torch.device("cpu"))
    messages = [str(w.message) for w in caught if "Start them apart" in str(w.message)]
    assert messages == (
        [f"{why} Start them apart, e.g. --init noise, or dream the copies with other --seed values."] if why else []
    )


def test_copies_of_a_class_from_the_same_start_do_come_out_identical():
    """What the warning says: without it, two copies from one start are one dream paid for twice."""
    config = RunConfig(size=16, steps=3, classes=["1", "1"], init="gray", reg=["jitter:pixels=2", "flip"])
    host = make_host()
    with pytest.warns(UserWarning, match="they come out identical"):
        job, _ = build_job(host, config, tiny_model(), torch.device("cpu"))
    image = run_through_hooks(host, job).image
    # the same picture: on some CPUs (AVX-512) a batch's items differ in a float's last bit by their place in it
    assert torch.allclose(image[0], image[1], rtol=0, atol=1e-6) and not torch.allclose(image[0], image[0].mean())


@pytest.mark.parametrize(
    "size, classes, strategy, said",
    [
        (
            100,
            1,
            [],
            "39x the pixels of its 16x16 input at once, and memory grows with them (the default model took "
            "2 GiB for one 1024x1024 dream on the CPU); --strategy tile (or crops) dreams each image a part at a "
            "time in "
            "bounded memory.",
        ),
        (100, 1, ["tile"], None),
        (100, 1, ["crops"], None),
        (64, 1, [], None),  # 16x
        (
            16,
            30,
            [],
            "30x the pixels of its 16x16 input at once, and memory grows with them (the default model took "
            "2 GiB for one 1024x1024 dream on the CPU); all 30 classes are dreamed at once, so fewer per run "
            "hold less.",
        ),
        (
            32,
            8,
            [],
            "32x the pixels of its 16x16 input at once, and memory grows with them (the default model took "
            "2 GiB for one 1024x1024 dream on the CPU); --strategy tile (or crops) dreams each image a part at a "
            "time in "
            "bounded memory; all 8 classes are dreamed at once, so fewer per run hold less.",
        ),
        (100, 30, ["tile"], "30x the pixels"),  # tiles of 30 classes at once
    ],
)
def test_a_run_far_above_the_networks_input_is_warned_of_its_memory_with_the_way_out(size, classes, strategy, said):
    model = tiny_model()
    assert model.input_size == (16, 16)
    config = RunConfig(size=size, steps=1, classes=[str(i % 4) for i in range(classes)], strategy=strategy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_job(make_host(), config, model, torch.device("cpu"))
    messages = [str(w.message) for w in caught if "memory grows" in str(w.message)]
    assert messages == ([] if said is None else [messages[0]])
    if said:
        assert messages[0].startswith("this dream runs the network on " + said)
