"""The speed settings: norm folding (on by default), channels-last (on by default on the CPU), and the opt-in
torch.compile and bfloat16."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from dreamengine import DreamError
from dreamengine.cli import cli
from dreamengine.engine.loop import run_job
from dreamengine.run.acceleration import uses_channels_last
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import read_manifest, save_png
from dreamengine.run.prepare import build_job

CPU = torch.device("cpu")


def dream(host, model, **settings):
    config = RunConfig(classes=["red", "blue"], steps=4, **settings)
    job, _ = build_job(host, config, model, CPU)
    return job, run_job(job)


def test_channels_last_changes_the_layout_not_the_dream(host, tiny_model):
    _, plain = dream(host, tiny_model)
    job, fast = dream(host, tiny_model, channels_last=True)
    assert job.model.layer("0").weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast.image, plain.image, atol=1e-4, rtol=0)
    dream(host, tiny_model, channels_last=False)
    assert tiny_model.layer("0").weight.is_contiguous()


def test_channels_last_is_on_by_default_on_the_cpu_only(host, tiny_model):
    job, _ = dream(host, tiny_model)
    assert job.model.layer("0").weight.is_contiguous(memory_format=torch.channels_last)
    assert RunConfig().channels_last is None  # unset: chosen by the device
    assert uses_channels_last(None, torch.device("cpu"))
    assert not uses_channels_last(None, torch.device("cuda"))
    assert not uses_channels_last(False, torch.device("cpu"))
    assert uses_channels_last(True, torch.device("cuda"))


def test_bf16_runs_the_model_in_bfloat16_and_keeps_float32_scores(host, tiny_model):
    job, low = dream(host, tiny_model, precision="bf16")
    assert job.model.autocast is torch.bfloat16
    assert low.scores.dtype == torch.float32 and torch.isfinite(low.image).all()
    with job.model.capture(["0"]) as captured:
        job.model(torch.rand(1, 3, 16, 16))
    assert captured["0"].dtype == torch.float32
    _, full = dream(host, tiny_model, precision="fp32")
    assert not torch.equal(low.image, full.image)
    torch.testing.assert_close(low.image, full.image, atol=0.05, rtol=0)


def test_compile_compiles_the_network_lazily(host, tiny_model, monkeypatch):
    # A real compile takes about a minute on a CPU: check that it is asked for, not its result.
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(self))
    dream(host, tiny_model, compile=True)
    assert compiled == [tiny_model.net]


def test_unknown_precision_is_one_clear_error(host, tiny_model):
    with pytest.raises(DreamError, match="unknown precision 'fp8'; use fp32 or bf16"):
        dream(host, tiny_model, precision="fp8")
    with pytest.raises(DreamError, match="'compile' .* must be bool"):
        RunConfig().updated({"compile": "yes"}, "a test")


@pytest.mark.usefixtures("builtins_only_cli")
def test_the_flags_reach_the_manifest(runner, tmp_path):
    out = tmp_path / "dream.png"
    result = runner.invoke(
        cli,
        [
            "run",
            "--model",
            "resnet10t",
            "--size",
            "32",
            "--steps",
            "2",
            "--channels-last",
            "--precision",
            "bf16",
            "--no-fold-norms",
            "--output",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    config = read_manifest(out)["config"]
    assert config["channels_last"] is True and config["precision"] == "bf16" and config["compile"] is False
    assert config["fold_norms"] is False


@pytest.mark.usefixtures("builtins_only_cli", "resnet10t_quiet")
def test_a_dream_made_before_norm_folding_is_repeated_unfolded(runner, tmp_path):
    made, old, again = tmp_path / "made.png", tmp_path / "old.png", tmp_path / "again.png"
    common = ["--model", "resnet10t", "--size", "32", "--steps", "3"]
    assert runner.invoke(cli, ["run", *common, "--no-fold-norms", "-o", str(made)]).exit_code == 0
    manifest = read_manifest(made)
    del manifest["config"]["fold_norms"]  # as an earlier release wrote it
    save_png(Image.open(made), old, manifest)
    result = runner.invoke(cli, ["run", "--from", str(old), "-o", str(again)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert read_manifest(again)["config"]["fold_norms"] is False
    assert Image.open(again).tobytes() == Image.open(made).tobytes()
