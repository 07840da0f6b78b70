"""What the loop hands back is plain data: no autograd graph attached."""

from __future__ import annotations

import torch

from dreamengine import DreamJob
from dreamengine.engine.loop import run_job
from dreamengine.testing import tiny_model
from dreamengine_builtins.objectives import Logit


def test_the_result_and_its_frames_are_outside_the_autograd_graph():
    job = DreamJob(
        model=tiny_model(),
        objective=Logit(),
        regularizers=[],
        image=torch.full((1, 3, 16, 16), 0.5),
        targets=torch.tensor([0]),
        steps=2,
        lr=0.05,
        optimizer="adam",
        generator=torch.Generator().manual_seed(0),
        save_every=1,
    )
    result = run_job(job)
    assert not result.image.requires_grad and not any(frame.requires_grad for frame in result.frames)
    assert result.image.numpy().shape == (1, 3, 16, 16)
