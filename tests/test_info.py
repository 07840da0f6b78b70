"""`dreamengine info` and the recipe it prints: the command line that makes a dream again."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pytest
from PIL import Image

from dreamengine.cli import cli
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import SHEET_KEY, read_manifest, save_png
from dreamengine.run.recipe import command_line

pytestmark = pytest.mark.usefixtures("builtins_only_cli")


def test_the_defaults_need_no_arguments_and_each_kind_of_setting_is_written_as_run_takes_it():
    assert command_line(RunConfig()) == []
    config = RunConfig().updated(
        {
            "classes": ["toucan", "great grey owl"],
            "reg": [],
            "strategy": ["tile:size=64", "octaves"],
            "options": {"fft": {"decorrelate": False}},
            "fold_norms": False,
            "side_by_side": True,
            "size": "64x32",
            "output": "elsewhere",
            "lr": 0.1,
        },
        "a test",
    )
    assert command_line(config) == [
        "-c",
        "toucan",
        "-c",
        "great grey owl",
        "--reg",
        "none",
        "--strategy",
        "tile:size=64,octaves",
        "-s",
        "fft.decorrelate=false",
        "--lr",
        "0.1",
        "--size",
        "64x32",
        "--no-fold-norms",
        "--side-by-side",
    ]


def test_a_known_preset_is_named_and_only_what_differs_from_it_is_written():
    preset = {"steps": 40, "lr": 0.01, "param": "pixel"}
    config = RunConfig().updated({**preset, "preset": "mine"}, "a preset").updated({"lr": 0.05, "seed": 3}, "cli")
    assert command_line(config, preset) == ["--preset", "mine", "--lr", "0.05", "--seed", "3"]
    assert command_line(config) == ["--param", "pixel", "--steps", "40", "--seed", "3"]  # preset unknown here


def test_info_shows_the_dream_and_its_command_line_makes_the_same_picture(runner, tmp_path):
    first = tmp_path / "first"
    settings = [
        "--model",
        "resnet10t",
        "--size",
        "40x32",
        "--steps",
        "4",
        "-c",
        "toucan",
        "-c",
        "7",
        "--reg",
        "clamp,jitter:pixels=2,flip",
        "-s",
        "flip.p=0.7",
        "--strategy",
        "none",
        "--seed",
        "5",
        "--lr",
        "0.1",
        "--optimizer",
        "sgd",
        "--param",
        "pixel",
    ]
    assert runner.invoke(cli, ["run", *settings, "-o", str(first)]).exit_code == 0
    dream, other = sorted(first.iterdir(), key=lambda path: "toucan" not in path.name)
    result = runner.invoke(cli, ["info", str(dream), str(other)])
    assert result.exit_code == 0, result.output
    assert "toucan" in result.output and "40x32, 4 of 4 steps" in result.output and "torch" in result.output
    assert re.search(r"^from +gray *$", result.output, flags=re.M)  # what it started from
    again = [line for line in result.output.splitlines() if line.startswith("dreamengine run ")]
    assert len(again) == 2 and again[0] == again[1]  # one run made both
    args = shlex.split(again[0])[2:]
    assert "-o" not in args
    second = tmp_path / "second"
    assert runner.invoke(cli, ["run", *args, "-o", str(second)]).exit_code == 0
    assert np.array_equal(np.asarray(Image.open(second / dream.name)), np.asarray(Image.open(dream)))
    made, remade = read_manifest(dream), read_manifest(second / dream.name)
    assert remade["config"]["threads"] == made["threads"] == remade["threads"]  # the line names the threads used
    assert {**made["config"], "output": None, "threads": None} == {**remade["config"], "output": None, "threads": None}


def test_info_on_a_picture_that_is_not_a_dream_says_so_and_goes_on(runner, tmp_path):
    photo = tmp_path / "holiday.png"
    Image.new("RGB", (8, 8), "red").save(photo)
    dream = tmp_path / "d.png"
    assert (
        runner.invoke(cli, ["run", "--model", "resnet10t", "--size", "32", "--steps", "1", "-o", str(dream)]).exit_code
        == 0
    )
    result = runner.invoke(cli, ["info", str(photo), str(dream)])
    assert result.exit_code == 1
    assert "holiday.png' carries no dreamengine settings" in result.output
    assert "dreamengine run --model resnet10t --steps 1 --size 32" in result.output


def test_info_on_a_montage_names_its_pictures(runner, tmp_path):
    dream = tmp_path / "d.png"
    assert (
        runner.invoke(cli, ["run", "--model", "resnet10t", "--size", "32", "--steps", "1", "-o", str(dream)]).exit_code
        == 0
    )
    sheet = tmp_path / "m.png"
    assert runner.invoke(cli, ["montage", str(dream), "-o", str(sheet)]).exit_code == 0
    result = runner.invoke(cli, ["info", str(sheet)])
    assert result.exit_code == 1 and "is a montage of 1 picture, not one dream: give their files" in result.output


def test_info_names_a_registered_preset_and_its_line_makes_the_same_picture(runner, tmp_path):
    first = tmp_path / "first.png"
    made = ["--preset", "report", "--model", "resnet10t", "--size", "32", "--steps", "2", "-c", "toucan"]
    assert runner.invoke(cli, ["run", *made, "-o", str(first)]).exit_code == 0
    result = runner.invoke(cli, ["info", str(first)])
    assert result.exit_code == 0, result.output
    again = next(line for line in result.output.splitlines() if line.startswith("dreamengine run "))
    threads = read_manifest(first)["threads"]  # as it was dreamed: the pixels may depend on it
    assert (
        again == f"dreamengine run --preset report --model resnet10t -c toucan --steps 2 --size 32 --threads {threads}"
    )
    second = tmp_path / "second.png"
    assert runner.invoke(cli, ["run", *shlex.split(again)[2:], "-o", str(second)]).exit_code == 0
    assert np.array_equal(np.asarray(Image.open(second)), np.asarray(Image.open(first)))


def test_info_says_which_item_of_a_side_by_side_run_a_dream_was_and_whether_it_was_cut_short(runner, tmp_path):
    out = tmp_path / "out"
    assert (
        runner.invoke(
            cli,
            [
                "run",
                "--model",
                "resnet10t",
                "--size",
                "32",
                "--steps",
                "1",
                "-o",
                str(out),
                "--objective",
                "layer:layer1:0; layer:layer1:1",
            ],
        ).exit_code
        == 0
    )
    second = next(path for path in out.iterdir() if "layer1-1" in path.name)
    result = runner.invoke(cli, ["info", str(second)])
    assert "item 2 of objectives dreamed side by side" in result.output
    manifest = {**read_manifest(second), "steps_done": 0, "interrupted": True, "diverged": "it blew up at step 1"}
    save_png(Image.open(second), second, manifest)
    result = runner.invoke(cli, ["info", str(second)])
    assert "0 of 1 steps, stopped by Ctrl-C" in result.output and "diverged   it blew up at step 1" in result.output


def test_info_on_a_contact_sheet_points_to_the_study_cells(runner, tmp_path):
    sheet = tmp_path / "sheet.png"
    save_png(Image.new("RGB", (8, 8)), sheet, {SHEET_KEY: {"class": "toucan"}})
    result = runner.invoke(cli, ["info", str(sheet)])
    assert result.exit_code == 1 and "is a study's contact sheet, not one dream" in result.output


def test_an_animation_carries_its_dreams_settings_and_an_older_one_points_to_the_png(runner, tmp_path):
    for animation in ("gif", "webp"):
        assert (
            runner.invoke(
                cli,
                [
                    "run",
                    "--model",
                    "resnet10t",
                    "--size",
                    "32",
                    "--steps",
                    "2",
                    "--save-every",
                    "1",
                    "--animation",
                    animation,
                    "-o",
                    str(tmp_path / animation),
                ],
            ).exit_code
            == 0
        )
        dream = tmp_path / animation / "flamingo-seed0.png"
        assert read_manifest(dream.with_suffix(f".{animation}")) == read_manifest(dream)
        shown = [
            _after_title(runner.invoke(cli, ["info", str(path)]).output.splitlines())
            for path in (dream, dream.with_suffix(f".{animation}"))
        ]
        assert shown[0] == shown[1] and shown[0][0].split() == ["dreams", "flamingo"]
        assert shown[0][-1].startswith("dreamengine run --model resnet10t")
    older = tmp_path / "gif" / "flamingo-seed0.gif"
    Image.open(older.with_suffix(".png")).convert("RGB").save(older)  # as animations were before: no settings
    result = runner.invoke(cli, ["info", str(older)])
    assert result.exit_code == 1
    assert (
        f"is an animation, which carries no dreamengine settings; its dream's are in '{older.with_suffix('.png')}'."
    ) in " ".join(result.output.split())


def _after_title(lines: list[str]) -> list[str]:
    """The lines of ``info``'s output after its title, the file's name (one line or, for a long path, several)."""
    first_row = next(number for number, line in enumerate(lines) if line.split()[:1] == ["dreams"])
    return lines[first_row:]
