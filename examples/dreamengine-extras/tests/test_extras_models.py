"""The ``colours:`` model: a loader hook serving a network of the plugin's own."""

from __future__ import annotations

import pytest
import torch

from dreamengine import DreamError, DreamJob, DreamModel, Objective
from dreamengine.engine.loop import run_job
from dreamengine_extras.colours import colour
from dreamengine_extras.models import load
from dreamengine_extras.parametrizations import Pyramid


class _Logit(Objective):
    def __call__(self, outputs):
        return outputs.logits.gather(1, outputs.targets[:, None])[:, 0]


def test_other_names_are_declined():
    assert load("resnet10t") is None and load("colour:red,blue") is None


def test_the_classes_are_the_colours_named_and_the_layers_are_readable():
    model = load("colours:red, teal,#ff8800")
    assert isinstance(model, DreamModel) and model.name == "colours:red, teal,#ff8800"
    assert model.class_names == ["red", "teal", "#ff8800"] and model.net.num_classes == 3
    assert [name for name, _ in model.net.named_children()] == ["distance", "pool", "flatten"]


def test_each_colour_scores_highest_on_a_picture_of_itself():
    model = load("colours:red,lime,blue,white").freeze()
    pictures = torch.stack([colour(name).view(3, 1, 1).expand(3, 8, 8) for name in ("red", "lime", "blue", "white")])
    logits = model(pictures)
    assert logits.argmax(1).tolist() == [0, 1, 2, 3]
    assert torch.allclose(logits.diagonal(), torch.zeros(4))  # zero distance to itself, below zero to the rest


@pytest.mark.parametrize(
    ("name", "message"),
    [("colours:red", "name two colours or more"), ("colours:red,blurple", "'blurple' is not a colour")],
)
def test_a_bad_name_is_one_clear_error(name, message):
    with pytest.raises(DreamError, match=message):
        load(name)


def test_a_class_count_other_than_the_colours_is_refused():
    assert load("colours:red,blue", num_classes=2) is not None
    with pytest.raises(DreamError, match="has 2 classes, one per colour; 5 were asked for"):
        load("colours:red,blue", num_classes=5)


def test_dreaming_toward_a_colour_paints_the_picture_that_colour():
    model = load("colours:red,teal").freeze()
    job = DreamJob(
        model=model,
        objective=_Logit(),
        regularizers=[],
        image=torch.full((1, 3, 16, 16), 0.5),
        targets=torch.tensor([1]),
        steps=60,
        lr=0.05,
        optimizer="adam",
        generator=torch.Generator().manual_seed(0),
        parametrization=Pyramid(),
    )
    result = run_job(job)
    torch.testing.assert_close(result.image[0].mean((1, 2)), colour("teal"), atol=0.05, rtol=0)
