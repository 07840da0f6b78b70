"""`dreamengine atlas` end to end on a tiny timm model with random weights: files, resume, --from, dry run, Ctrl-C."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from dreamengine.cli import cli
from dreamengine.run.imaging import read_manifest

pytestmark = pytest.mark.usefixtures("builtins_only_cli", "one_thread")

#: a tiny atlas: two units of a stage and two classes, 32 pixels, few steps, two units a batch
TINY = ["--model", "resnet10t", "--size", "32", "--steps", "4", "--layer", "layer1", "--layer", "logits"]
UNITS = ["--units", "2", "--batch", "2"]


def invoke(runner, *args):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_the_atlas_command_dreams_every_unit_and_resumes(runner, tmp_path):
    out = tmp_path / "atlas"
    result = invoke(runner, "atlas", *TINY, *UNITS, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "4 units in" in result.output and "4 dreamt now, 0 done before" in result.output
    plan = json.loads((out / "atlas.json").read_text())
    assert [(layer["name"], layer["units"]) for layer in plan["layers"]] == [("layer1", [0, 1]), ("logits", [0, 1])]
    assert plan["model"] == "resnet10t" and plan["size"] == [32, 32] and plan["settings"]["steps"] == 4
    for layer in ("layer1", "logits"):
        for unit in (0, 1):
            record = json.loads((out / f"units/{layer}/{unit}.json").read_text())
            assert Image.open(out / record["dream"]).size == (32, 32)
            assert (out / record["thumb"]).is_file() and isinstance(record["activation"], float)
    again = invoke(runner, "atlas", *TINY, *UNITS, "-o", str(out))
    assert again.exit_code == 0 and "0 dreamt now, 4 done before" in again.output


def test_a_unit_is_made_again_from_its_stored_settings(runner, tmp_path):
    out = tmp_path / "atlas"
    invoke(runner, "atlas", *TINY, *UNITS, "-o", str(out))
    for layer, made in (("layer1", "layer-layer1-1-seed0.png"), ("logits", "goldfish-seed0.png")):
        again = tmp_path / f"again-{layer}"
        result = invoke(runner, "run", "--from", str(out / f"units/{layer}/1.png"), "-o", str(again))
        assert result.exit_code == 0, result.output
        assert len(list(again.glob("*.png"))) == 2  # the batch of two units again
        dream = Image.open(out / f"units/{layer}/1.png")
        assert Image.open(again / made).tobytes() == dream.tobytes()  # and the same picture


def test_changed_settings_in_an_atlas_folder_are_refused(runner, tmp_path):
    out = tmp_path / "atlas"
    invoke(runner, "atlas", *TINY, "--units", "1", "-o", str(out))
    result = runner.invoke(cli, ["atlas", *TINY, "--units", "1", "--lr", "0.1", "-o", str(out)])
    assert result.exit_code == 1
    assert "holds an atlas made with other settings (lr: 0.05 then, 0.1 now)" in " ".join(result.output.split())
    assert json.loads((out / "atlas.json").read_text())["settings"]["lr"] == 0.05


def test_a_dry_run_prints_an_estimate_and_writes_nothing(runner, tmp_path):
    out, images = tmp_path / "atlas", tmp_path / "images"
    images.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8)).save(images / name)
    result = invoke(runner, "atlas", *TINY, *UNITS, "-o", str(out), "--images", str(images), "--dry-run")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "4 dreams in 2 batches of up to 2 units, 4 steps each: about" in text
    assert "a step of a full batch measured: layer1" in text and "Nothing was written." in text
    assert f"dataset examples: 2 files in {images}" in text
    assert not out.exists()


def test_ctrl_c_keeps_the_batches_done_and_says_how_to_resume(runner, tmp_path, monkeypatch):
    from dreamengine.atlas import work as atlas_runner

    real, calls = atlas_runner.dream_batch, []

    def stopped_at_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(atlas_runner, "dream_batch", stopped_at_the_second)
    out = tmp_path / "atlas"
    result = runner.invoke(cli, ["atlas", *TINY, *UNITS, "-o", str(out)])
    assert result.exit_code == 130
    assert "Interrupted: 2 of 4 units dreamt now are kept" in " ".join(result.output.split())
    assert sorted(path.name for path in (out / "units").rglob("*.json")) == ["0.json", "1.json"]
    monkeypatch.setattr(atlas_runner, "dream_batch", real)
    again = invoke(runner, "atlas", *TINY, *UNITS, "-o", str(out))
    assert "2 dreamt now, 2 done before" in again.output


def test_options_that_the_atlas_sets_itself_are_not_offered(runner):
    result = runner.invoke(cli, ["atlas", "--objective", "logit"])
    assert result.exit_code == 2 and "No such option '--objective'" in result.output


def test_the_help_shows_the_atlas_defaults_its_size_among_them(runner):
    from dreamengine.atlas.defaults import DEFAULT_BATCH, DEFAULT_SIDE

    text = " ".join(runner.invoke(cli, ["atlas", "--help"]).output.split())
    assert f"[default: {DEFAULT_BATCH}]" in text
    assert f"[default: {DEFAULT_SIDE} (its longer side), or the model's input size where that is smaller]" in text
    run_help = " ".join(runner.invoke(cli, ["run", "--help"]).output.split())
    assert "[default: the model's input size]" in run_help


def test_a_start_given_is_each_units_start(runner, tmp_path):
    out = tmp_path / "atlas"
    result = invoke(runner, "atlas", *TINY, "--units", "1", "--init", "gradient", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "atlas.json").read_text())["settings"]["init"] == "gradient"
    assert read_manifest(out / "units/layer1/0.png")["config"]["init"] == "gradient"


def test_a_wrong_folder_of_images_stops_the_atlas_before_any_dream(runner, tmp_path):
    out = tmp_path / "atlas"
    result = runner.invoke(cli, ["atlas", *TINY, *UNITS, "-o", str(out), "--images", str(tmp_path / "none")])
    assert result.exit_code == 1 and "does not exist or is not a folder" in " ".join(result.output.split())
    assert not (out / "units").exists()
