"""A linear layer's output, ``(batch, features)``, is a layer of units with one position: ``layer:fc:N`` dreams a
feature, the atlas dreams a linear layer's units, and a neuron of it is refused in one line, never a traceback."""

from __future__ import annotations

import json

import pytest

from dreamengine.cli import cli

pytestmark = pytest.mark.usefixtures("builtins_only_cli", "one_thread")

TINY = ["--model", "resnet10t", "--size", "32", "--steps", "3"]


def test_a_feature_of_a_linear_layer_is_dreamt(runner, tmp_path):
    result = runner.invoke(cli, ["run", *TINY, "--objective", "layer:fc:3", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "layer-fc-3-seed0.png").is_file()


def test_a_neuron_of_a_linear_layer_is_refused_in_one_line(runner, tmp_path):
    result = runner.invoke(cli, ["run", *TINY, "--objective", "neuron:fc:3", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "gives features with no positions" in " ".join(result.output.split()) and "layer:fc:3" in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_the_atlas_dreams_a_linear_layers_units(runner, tmp_path):
    out = tmp_path / "atlas"
    result = runner.invoke(cli, ["atlas", *TINY, "--layer", "fc", "--units", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads((out / f"units/fc/{unit}.json").read_text()) for unit in (0, 1)]
    assert all(isinstance(record["activation"], float) for record in records)
    assert (out / "layers/fc.html").is_file()
