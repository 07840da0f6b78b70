"""docs/models.md's examples run: each route's commands and Python, on tiny models with random weights."""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from dreamengine.cli import cli

ROOT = Path(__file__).resolve().parent.parent
MODELS_MD = (ROOT / "docs" / "models.md").read_text()
FAST = ["--steps", "2", "--size", "32", "--threads", "1"]

pytestmark = pytest.mark.usefixtures("one_thread", "resnet10t_quiet", "builtins_only_cli")


def blocks(section: str, language: str) -> list[str]:
    """The fenced ``language`` blocks of the section whose heading starts with ``section``."""
    text = MODELS_MD.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def commands(section: str, *names: str) -> list[list[str]]:
    """The section's ``dreamengine NAME ...`` command lines for the commands ``names``, as arguments."""
    lines = [shlex.split(line) for block in blocks(section, "bash") for line in block.splitlines() if line.strip()]
    return [line[1:] for line in lines if line[1] in names]


@pytest.fixture
def birds(tmp_path, monkeypatch):
    """A 5-class resnet10t's weights as birds.safetensors and its class names as birds.txt, in the working folder."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = timm.create_model("resnet10t", num_classes=5)
    save_file(net.state_dict(), "birds.safetensors")
    Path("birds.txt").write_text("wren\nowl\nrobin\ncrow\njay\n")
    return net


def test_route_1_commands_and_python(runner, birds):
    for arguments in commands("1.", "run", "classes"):
        result = runner.invoke(cli, arguments + (FAST if arguments[0] == "run" else []))
        assert result.exit_code == 0, (arguments, result.output)
    names: dict = {}
    (code,) = blocks("1.", "python")
    exec(compile(code.replace("steps=100", "steps=2, size=32"), "models.md", "exec"), names)
    assert names["owl"].manifest["target"]["name"] == "owl" and Path("owl.png").is_file()


def test_route_1_study_of_weights_files(runner, birds):
    for epoch in (1, 2):
        torch.manual_seed(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            save_file(timm.create_model("resnet10t", num_classes=5).state_dict(), f"epoch{epoch}.safetensors")
    (arguments,) = commands("1.", "study")
    arguments = [argument.replace("200,500", "1,2") for argument in arguments]
    result = runner.invoke(cli, [*arguments, "-c", "owl", "--size", "16", "--threads", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert len([p for p in Path("study", "cells").rglob("*.png") if not p.stem.endswith("-side")]) == 4


def test_route_2_a_saved_folder(runner, birds):
    from timm.models import save_for_hf

    save_for_hf(birds, "my-finetuned-vit", safe_serialization=True)
    (arguments,) = commands("2.", "run")
    result = runner.invoke(cli, arguments + FAST)
    assert result.exit_code == 0, result.output


def test_route_3_any_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    (code,) = blocks("3.", "python")
    names: dict = {}
    code = code.replace("steps=100", "steps=2").replace("size=64", "size=24")
    exec(compile(code, "models.md", "exec"), names)
    assert Path("channel5.png").is_file() and Path("my-atlas/index.html").is_file()
    assert str(names["mix"]) == "layer:0:1 - 0.5*layer:0:2"
