"""The dream loop keeps every tensor on the job's device: nothing is built on a default device and copied in.

Only a CPU is available to the tests, so the default device is set to ``meta``
while the loop runs: a tensor made without naming its device then lands on
``meta``, and the first operation that mixes it with the job's CPU tensors
fails, as it would (or would copy every step) with a GPU job.
"""

from __future__ import annotations

import pytest
import torch

from dreamengine import Regularizer
from dreamengine.config import RunConfig
from dreamengine.dreaming import build_job
from dreamengine.engine import run_job

REGS = ["clamp", "blur:sigma=0.2:sigma_max=0.9", "flip", "jitter:pixels=2"]


class ImplicitDevice(Regularizer):
    """A faulty penalty: builds its tensor on the default device instead of the image's."""

    def penalty(self, image):
        return torch.zeros(image.shape[0]) + image.mean()


def job(host, model, **settings):
    config = RunConfig(classes=["red", "blue"], steps=3, reg=REGS, **settings)
    return build_job(host, config, model, torch.device("cpu"))[0]


@pytest.mark.parametrize("settings", [{"param": "fft"}, {"param": "pixel", "optimizer": "sgd"},
                                      {"objective": "layer:layer=2", "save_every": 1, "init": "noise"}])
def test_the_loop_makes_no_tensor_off_the_jobs_device(host, tiny_model, settings):
    dream = job(host, tiny_model, **settings)
    with torch.device("meta"):
        result = run_job(dream)
    assert result.steps_done == 3 and result.image.device.type == "cpu"


def test_the_check_catches_a_tensor_made_on_the_default_device(host, tiny_model):
    dream = job(host, tiny_model)
    dream.regularizers = [*dream.regularizers, ImplicitDevice()]
    with pytest.raises(RuntimeError, match="device meta"), torch.device("meta"):
        run_job(dream)
