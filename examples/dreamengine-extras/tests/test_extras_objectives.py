"""The diversity objective and its Gram-matrix similarity."""

from __future__ import annotations

import pytest
import torch

from dreamengine import DreamJob, DreamOutputs
from dreamengine.engine.loop import run_job
from dreamengine.testing import tiny_model
from dreamengine_extras.objectives import Diversity, gram_similarity


def test_identical_items_are_fully_alike_and_a_single_item_is_not_compared():
    features = torch.rand(1, 4, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gram_similarity(features.expand(3, 4, 5, 5)), torch.ones(3))
    assert torch.equal(gram_similarity(features), torch.zeros(1))


def test_items_with_unrelated_channels_are_unlike():
    features = torch.zeros(2, 2, 3, 3)
    features[0, 0], features[1, 1] = 1, 1
    torch.testing.assert_close(gram_similarity(features), torch.zeros(2))


def test_similarity_works_on_flat_features_too():
    assert gram_similarity(torch.rand(3, 8)).shape == (3,)


def test_diversity_is_the_logit_minus_weighted_similarity():
    logits = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    features = torch.ones(2, 3, 4, 4)
    outputs = DreamOutputs(logits, torch.tensor([1, 0]), {"block": features})
    torch.testing.assert_close(Diversity(layer="block", weight=2.0)(outputs), torch.tensor([0.0, 1.0]))


def dream(objective, steps):
    model = tiny_model()
    generator = torch.Generator().manual_seed(0)
    image = 0.5 + 0.05 * torch.randn(3, 3, 16, 16, generator=generator)
    job = DreamJob(
        model=model,
        objective=objective,
        regularizers=[],
        image=image.clamp(0, 1),
        targets=torch.tensor([1, 1, 1]),
        steps=steps,
        lr=0.05,
        optimizer="adam",
        generator=generator,
    )
    with model.capture(["relu1"]) as seen:
        model(run_job(job).image)
    return float(gram_similarity(seen["relu1"]).mean())


def test_dreaming_with_diversity_makes_the_batch_less_alike():
    alike = dream(Diversity(layer="relu1", weight=0.0), steps=30)
    assert dream(Diversity(layer="relu1", weight=50.0), steps=30) < alike - 0.01


def test_diversity_says_it_compares_items_so_identical_starts_are_warned_of():
    assert Diversity(layer="relu1").compares_items


@pytest.mark.parametrize(
    "options", [{"layer": ""}, {"layer": "a", "weight": -1.0}, {"layer": "a", "weight": float("nan")}]
)
def test_invalid_options_are_refused(options):
    with pytest.raises(ValueError):
        Diversity(**options)
