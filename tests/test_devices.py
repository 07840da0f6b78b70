"""Devices: ``--device`` names one that is here, and the dream loop keeps every tensor on the job's device
(nothing is built on a default device and copied in).

Only a CPU is available to the tests, so the default device is set to ``meta``
while the loop runs: a tensor made without naming its device then lands on
``meta``, and the first operation that mixes it with the job's CPU tensors
fails, as it would (or would copy every step) with a GPU job.
"""

from __future__ import annotations

import pytest
import torch

from dreamengine import DreamError, Regularizer
from dreamengine.engine.loop import run_job
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import build_job, resolve_device

REGS = ["clamp", "blur:sigma=0.2:sigma_max=0.9", "flip", "jitter:pixels=2"]


class ImplicitDevice(Regularizer):
    """A faulty penalty: builds its tensor on the default device instead of the image's."""

    def penalty(self, image):
        return torch.zeros(image.shape[0]) + image.mean()


def job(host, model, **settings):
    config = RunConfig(classes=["red", "blue"], steps=3, reg=REGS, **settings)
    return build_job(host, config, model, torch.device("cpu"))[0]


@pytest.mark.parametrize(
    "settings",
    [
        {"param": "fft"},
        {"param": "pixel", "optimizer": "sgd"},
        {"objective": "layer:layer=2", "save_every": 1, "init": "noise"},
    ],
)
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


@pytest.mark.parametrize(
    "name, cuda, message",
    [
        ("tpu", 0, "unknown device 'tpu'; use auto, cpu, cuda, cuda:N or mps."),
        ("cuda:1", 0, "--device cuda:1 was asked for, but this torch has no usable CUDA device."),
        ("cuda:5", 2, "--device cuda:5 was asked for, but there are 2 CUDA devices here (cuda:0 to cuda:1)."),
    ],
)
def test_a_device_that_is_not_here_is_one_clear_line(monkeypatch, name, cuda, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
    with pytest.raises(DreamError) as error:
        resolve_device(name)
    assert str(error.value) == message


def test_auto_picks_cuda_when_it_is_here_and_the_cpu_otherwise(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    assert resolve_device("auto") == torch.device("cuda")
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark  # the same seed repeats


def test_auto_picks_mps_without_cuda_and_a_device_asked_for_is_kept_when_it_is_here(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps") and resolve_device("mps") == torch.device("mps")
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    assert resolve_device("cuda") == torch.device("cuda")  # no index: the first device
    assert resolve_device("cuda:1") == torch.device("cuda:1")  # the last one there is
    with pytest.raises(DreamError, match=r"there are 2 CUDA devices here \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda") == torch.device("cuda")  # one device: cuda is cuda:0


def test_mps_asked_for_where_it_is_not_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DreamError) as error:
        resolve_device("mps")
    assert str(error.value) == "--device mps was asked for, but MPS is not available here."
