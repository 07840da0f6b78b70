"""The report's central result, checked automatically: dreams bear resemblance to the training set.

Train a tiny timm model on the demo data, dream every class with the report's
setup, and measure each dream's colour: a trained model dreams each class in
its own colour (and the stripe classes in their own orientation); the same
model before training does not.
"""

from __future__ import annotations

import pytest
import torch

from dreamengine.engine.loop import run_job
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import apply_preset, build_job, load_model
from dreamengine.training.demo_data import DEMO_CLASSES, orientation, signatures, write_demo_data
from dreamengine.training.fine_tune import TrainSettings, train

EPOCHS = 4


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("end-to-end")
    write_demo_data(root / "data", per_class=40, size=32, seed=0)
    host = load_plugins(entry_points=False, blocked=(), trace=False)
    reports = train(
        host,
        TrainSettings(
            data=str(root / "data"),
            model="test_resnet",
            size=32,
            batch_size=32,
            lr=0.05,
            epochs=EPOCHS,
            device="cpu",
            output=str(root / "checkpoints"),
        ),
    )
    assert reports[-1].val_accuracy >= 0.9
    return host, root / "checkpoints"


def dreams(host, checkpoint) -> torch.Tensor:
    """Every demo class dreamt in one batch with the report's setup (at the demo's 32x32)."""
    config = apply_preset(host, RunConfig(), "report").updated(
        {
            "checkpoint": str(checkpoint),
            "classes": list(DEMO_CLASSES),
            "size": 32,
            "steps": 100,
            "lr": 0.05,
            "device": "cpu",
        },
        "test",
    )
    job, _ = build_job(host, config, load_model(host, config), torch.device("cpu"))
    return run_job(job).image


def own_margin(images: torch.Tensor) -> torch.Tensor:
    """For each dream: its own class's signature minus the strongest other class's."""
    table = torch.stack([signatures(image) for image in images])
    others = table.masked_fill(torch.eye(len(table), dtype=torch.bool), -torch.inf).amax(1)
    return table.diagonal() - others


def test_a_trained_model_dreams_each_class_in_its_own_colour_and_orientation(run):
    host, checkpoints = run
    images = dreams(host, checkpoints / f"epoch-{EPOCHS:03d}.pt")
    margin = own_margin(images)
    assert (margin > 0.2).all() and margin.mean() > 0.5, dict(zip(DEMO_CLASSES, margin.tolist()))
    names = list(DEMO_CLASSES)
    vertical, horizontal = (orientation(images[names.index(n)]) for n in ("red-vertical", "green-horizontal"))
    assert vertical > horizontal + 0.1, (vertical, horizontal)


def test_the_untrained_model_dreams_do_not_resemble_the_classes(run):
    host, checkpoints = run
    margin = own_margin(dreams(host, checkpoints / "epoch-000.pt"))
    assert (margin <= 0).sum() >= 2 and margin.mean() < 0, dict(zip(DEMO_CLASSES, margin.tolist()))
