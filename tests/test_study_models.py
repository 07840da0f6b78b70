"""`dreamengine study` over weights files of one architecture (--model ARCH): rows, labels, manifests, resume."""

from __future__ import annotations

import warnings

import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import save_file

from dreamengine.cli import cli
from dreamengine.engine.weights import file_sha256
from dreamengine.errors import DreamError
from dreamengine.run.imaging import SHEET_KEY, read_manifest
from dreamengine.study.plan import find_checkpoints

pytestmark = pytest.mark.usefixtures("one_thread", "builtins_only_cli", "resnet10t_quiet")

FAST = ["--steps", "1,2", "--size", "16", "--device", "cpu", "--threads", "1", "-c", "owl"]


def _weights(path, seed):
    """A resnet10t of 3 classes with random weights drawn from ``seed``, saved as ``path``."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save_file(timm.create_model("resnet10t", num_classes=3).state_dict(), path)
    return path


@pytest.fixture
def files(tmp_path):
    """Two weights files of resnet10t (epochs 1 and 2 by their names) and their class names."""
    (tmp_path / "names.txt").write_text("cat\ndog\nowl\n")
    return [_weights(tmp_path / f"epoch{seed}.safetensors", seed) for seed in (1, 2)], tmp_path / "names.txt"


def _cells(out):
    return sorted(p for p in (out / "cells").rglob("*.png") if not p.stem.endswith("-side"))


def test_a_study_of_two_weights_files_has_a_row_each_that_names_its_weights_and_resumes(runner, files, tmp_path):
    (first, second), names = files
    out = tmp_path / "out"
    model = ["--model", "resnet10t", "--class-names", str(names), "--mean", "0.5,0.5,0.5"]
    args = ["study", *model, str(first), str(second), *FAST, "-o", str(out)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "4 cells (all 2 dream runs made now)" in " ".join(result.output.split())
    cells = _cells(out)
    assert [p.name for p in cells] == [f"epoch-00{e}_steps-0000{s}.png" for e in (1, 2) for s in (1, 2)]
    for cell, weights in zip(cells, (first, first, second, second), strict=True):
        stored = read_manifest(cell)
        assert stored["model"]["weights"] == {"file": weights.name, "sha256": file_sha256(weights)}
        assert stored["config"]["weights"] == str(weights) and stored["config"]["checkpoint"] is None
        assert stored["config"]["mean"] == [0.5, 0.5, 0.5] and stored["target"]["name"] == "owl"
        assert stored["study"]["weights_sha256"] == file_sha256(weights)
    assert Image.open(cells[1]).tobytes() != Image.open(cells[3]).tobytes()  # other weights, another dream
    (sheet,) = (out / "sheets").iterdir()
    assert read_manifest(sheet)[SHEET_KEY]["epochs"] == [1, 2]
    assert "epoch1.safetensors" in (out / "index.html").read_text()
    stamps = {cell: cell.stat().st_mtime_ns for cell in cells}
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "4 cells (all 2 dream runs were already done)" in " ".join(result.output.split())
    assert {cell: cell.stat().st_mtime_ns for cell in cells} == stamps
    _weights(second, 3)  # the second file's weights change: its row is made again
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "2 cells in" in said and "were made with other settings, checkpoints or weights" in said
    assert "1 of 2 dream runs made now, 1 already done" in said
    assert read_manifest(cells[3])["model"]["weights"]["sha256"] == file_sha256(second)


def test_the_weights_option_and_a_folder_of_weights_files_are_rows_too(runner, files, tmp_path):
    (first, second), names = files
    out = tmp_path / "out"
    args = ["study", "--model", "resnet10t", "--weights", str(second), str(first), *FAST, "-o", str(out)]
    result = runner.invoke(cli, [*args, "--class-names", str(names)])
    assert result.exit_code == 0, result.output
    assert {read_manifest(p)["model"]["weights"]["file"] for p in _cells(out)} == {first.name, second.name}
    rows = find_checkpoints([str(tmp_path)], model="resnet10t")
    assert [(row.epoch, row.label, row.weights) for row in rows] == [
        (1, "epoch1.safetensors", True),
        (2, "epoch2.safetensors", True),
    ]


def test_weights_files_without_a_number_take_their_place_and_two_at_one_epoch_are_refused(tmp_path):
    best, last = _weights(tmp_path / "best.safetensors", 1), _weights(tmp_path / "last.pth", 2)
    rows = find_checkpoints([str(last), str(best)], model="resnet10t")
    assert [(row.epoch, row.label) for row in rows] == [(0, "last.pth"), (1, "best.safetensors")]
    assert [row.run for row in rows] == [tmp_path.name] * 2
    clash = _weights(tmp_path / "final-1.safetensors", 3)
    with pytest.raises(DreamError, match=r"are both run '.*' at epoch 1: a run has one row per epoch"):
        find_checkpoints([str(last), str(best), str(clash)], model="resnet10t")
    assert [row.epoch for row in find_checkpoints([str(clash)], [1], model="resnet10t")] == [1]


def test_a_study_mixes_dreamengine_checkpoints_with_weights_files_only_when_told_the_model(checkpoints, tmp_path):
    weights = _weights(tmp_path / "mine-7.safetensors", 1)
    rows = find_checkpoints([str(checkpoints / "epoch-001.pt"), str(weights)], model="resnet10t")
    assert [(row.weights, row.epoch, row.label) for row in rows] == [
        (False, 1, "epoch 1"),
        (True, 7, "mine-7.safetensors"),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["{w}"], "epoch1.safetensors' is not a"),
        (["{w}"], "A weights file of an architecture needs --model ARCH"),
        ([], "a study needs its rows"),
        (["--model", "resnet10t", "{d}/nothing.safetensors"], "does not exist"),
        (["--model", "resnet10t", "{d}/empty"], "holds no epoch-NNN.pt checkpoints or weights files"),
        (["--model", "resnet10t", "{w}", "--class-names", "{d}/two.txt"], "names 2 classes, and resnet10t has 3"),
    ],
)
def test_bad_study_rows_get_one_clear_line(runner, files, tmp_path, args, message):
    (first, _), _ = files
    (tmp_path / "empty").mkdir()
    (tmp_path / "two.txt").write_text("a\nb\n")
    args = [a.replace("{w}", str(first)).replace("{d}", str(tmp_path)) for a in args]
    result = runner.invoke(cli, ["study", *args, *FAST[:-2], "-o", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
