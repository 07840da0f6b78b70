"""The JSON sidecar the ``dreamengine_run_end`` observer writes beside a run's files, when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dreamengine import DreamResult, RunConfig
from dreamengine_extras.sidecar import SWITCH, sidecar_path, wanted, write_sidecar


def result(**changes) -> DreamResult:
    return DreamResult(
        **{"image": torch.zeros(2, 3, 4, 4), "scores": torch.tensor([1.5, -2.0]), "steps_done": 7, **changes}
    )


@pytest.mark.parametrize(("value", "on"), [("1", True), ("yes", True), (" On ", True), ("0", False), ("", False)])
def test_it_is_on_only_when_asked(value, on):
    assert wanted({SWITCH: value}) is on
    assert wanted({}) is False


def test_it_goes_beside_the_first_file():
    assert sidecar_path([Path("dreams/flamingo.png"), Path("dreams/flamingo.gif")]) == Path(
        "dreams/flamingo.scores.json"
    )


def test_it_holds_the_files_scores_and_steps(tmp_path):
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    written = write_sidecar(RunConfig(model="resnet10t", seed=3), result(), paths)
    assert written == tmp_path / "a.scores.json"
    assert json.loads(written.read_text()) == {
        "model": "resnet10t",
        "objective": "logit",
        "seed": 3,
        "files": [str(path) for path in paths],
        "scores": [1.5, -2.0],
        "steps": 7,
        "stopped_early": False,
    }


def test_a_diverged_run_is_marked_as_stopped_early(tmp_path):
    written = write_sidecar(RunConfig(), result(diverged="the loss is nan"), [tmp_path / "a.png"])
    assert json.loads(written.read_text())["stopped_early"] is True


def test_a_run_that_wrote_nothing_gets_no_sidecar(tmp_path):
    assert write_sidecar(RunConfig(), result(), []) is None
    assert list(tmp_path.iterdir()) == []
