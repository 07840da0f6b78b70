"""examples/build_atlas.py: the demo data's atlas built for real at a toy scale, the default model's commands
checked without dreaming them (efficientnet-lite0 at 128 pixels is minutes of CPU)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

from dreamengine.cli.atlas import atlas_command

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "build_atlas.py"

pytestmark = pytest.mark.usefixtures("builtins_only_cli", "one_thread")


@pytest.fixture
def script():
    spec = importlib.util.spec_from_file_location("build_atlas", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def commands(script, monkeypatch):
    """The dreamengine commands the script runs, recorded instead of run."""
    made = []
    monkeypatch.setattr(script, "dreamengine", lambda *args: made.append([str(arg) for arg in args]))
    return made


def test_the_demo_atlas_is_built_from_the_trained_model_with_the_validation_images(script, tmp_path, capsys):
    toy = ["--demo-model", "test_resnet", "--epochs", "1", "--per-class", "5", "--units", "1", "--steps", "2"]
    script.main(["demo", "--output", str(tmp_path), *toy, "--variants", "0", "--device", "cpu"])
    atlas = tmp_path / "demo-atlas"
    plan = json.loads((atlas / "atlas.json").read_text())
    assert plan["checkpoint"] == str(tmp_path / "demo-run" / "epoch-001.pt") and plan["size"] == [64, 64]
    assert json.loads((atlas / "examples.json").read_text())["source"] == str(tmp_path / "demo-data" / "val")
    assert (atlas / "index.html").is_file() and f"open {atlas / 'index.html'}" in capsys.readouterr().out


def test_the_default_atlas_reads_the_photographs_with_the_options_given(script, commands, tmp_path):
    pytest.importorskip("skimage.data", reason="scikit-image (a test extra) holds the photographs")
    script.main(["default", "--output", str(tmp_path), "--layer", "bn2", "--layer", "logits", "--units", "4"])
    photographs = tmp_path / "photographs"
    (command,) = commands
    assert command[:3] == ["atlas", "--images", str(photographs)]
    assert command[-2:] == ["--output", str(tmp_path / "default-atlas")]
    context = atlas_command.make_context("atlas", command[1:])  # options the command takes, of the right types
    assert context.params["layers"] == ("bn2", "logits") and context.params["units"] == "4"
    assert context.params["variants"] == 1 and context.params["size"] == "128" and "steps" not in command
    pictures = sorted(photographs.glob("*.jpg"))
    assert len(pictures) == len(script.PHOTOGRAPHS) and all(Image.open(p).mode == "RGB" for p in pictures)


def test_both_atlases_by_default_each_from_its_own_steps(script, commands, tmp_path):
    pytest.importorskip("skimage.data", reason="scikit-image (a test extra) holds the photographs")
    script.main(["--output", str(tmp_path), "--steps", "50"])
    assert [command[0] for command in commands] == ["demo-data", "train", "atlas", "atlas"]
    demo = commands[2]
    assert demo[demo.index("--checkpoint") + 1] == str(tmp_path / "demo-run" / "epoch-005.pt")
    assert demo[demo.index("--images") + 1] == str(tmp_path / "demo-data" / "val")
    assert all(command[command.index("--steps") + 1] == "50" for command in commands[2:])
