"""The plugin as dreamengine sees it: hooks, conformance, the installed entry point and the command line."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from dreamengine.testing import assert_conformance, plugin_host
from dreamengine_extras import plugin
from dreamengine_extras.commands import tv_command

PLUGIN = "dreamengine_extras.plugin"  # the name plugin_host gives it: the module's name


@pytest.fixture
def host():
    with plugin_host(plugin) as host:
        yield host


def test_components_are_registered_beside_the_builtins(host):
    registry = host.registry
    assert {e.name for e in registry.find("regularizers") if e.plugin == PLUGIN} == {"smooth", "affine"}
    assert [e.name for e in registry.find("objectives") if e.plugin == PLUGIN] == ["diverse-logit"]
    assert {e.name for e in registry.find("initializers") if e.plugin == PLUGIN} == {"radial", "checkerboard"}
    assert "blur" in registry.names("regularizers")


def test_every_component_passes_the_conformance_check(host):
    assert_conformance(
        host.registry,
        plugin=PLUGIN,
        options={
            "diverse-logit": [{"layer": "relu2"}, {"layer": "conv1", "weight": 1.0}],
            "smooth": [{}, {"squared": True}],
            "affine": [{}, {"degrees": 90.0, "scale": 0.5}],
            "checkerboard": [{}, {"size": 1}],
        },
    )


def test_the_command_is_added_to_the_cli(host):
    group = click.Group()
    host.hook.dreamengine_register_commands(cli=group)
    assert group.commands["tv"] is tv_command


def test_tv_command_ranks_noise_above_a_flat_image(tmp_path):
    flat, noisy = tmp_path / "flat.png", tmp_path / "noisy.png"
    Image.new("RGB", (16, 16), "gray").save(flat)
    noise = (torch.rand(16, 16, 3, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8).numpy()
    Image.fromarray(noise).save(noisy)
    result = CliRunner().invoke(tv_command, [str(flat), str(noisy)])
    assert result.exit_code == 0, result.output
    values = {path: float(value) for value, path in (line.split("  ") for line in result.output.splitlines())}
    assert values == {str(flat): 0.0, str(noisy): pytest.approx(0.66, abs=0.1)}


def test_tv_command_explains_a_missing_file(tmp_path):
    result = CliRunner().invoke(tv_command, [str(tmp_path / "missing.png")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_the_entry_point_names_the_plugin_module():
    (entry_point,) = importlib.metadata.entry_points(group="dreamengine", name="extras")
    assert entry_point.value == PLUGIN and entry_point.dist.name == "dreamengine-extras"


def dreamengine(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed ``dreamengine`` script, as a user would."""
    script = Path(sys.executable).with_name("dreamengine")
    return subprocess.run(
        [str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "COLUMNS": "200", "DREAMENGINE_NO_ENTRYPOINTS": "0"},
    )


def test_installed_the_cli_lists_the_plugin_and_its_components(tmp_path):
    plugins = dreamengine("plugins", cwd=tmp_path)
    assert plugins.returncode == 0, plugins.stderr
    assert "extras" in plugins.stdout and "dreamengine-extras" in plugins.stdout
    listing = dreamengine("list", "regularizers", cwd=tmp_path)
    assert "smooth" in listing.stdout and "affine" in listing.stdout and "degrees: float = 5.0" in listing.stdout


def test_installed_a_run_uses_the_plugins_components(tmp_path):
    out = tmp_path / "dream.png"
    run = dreamengine(
        "run",
        "--model",
        "resnet10t",
        "--size",
        "32",
        "--steps",
        "2",
        "-c",
        "1",
        "-c",
        "2",
        "--reg",
        "clamp,smooth:weight=5,affine:degrees=10",
        "--init",
        "radial:inner=pink",
        "--objective",
        "diverse-logit:layer=layer1",
        "-o",
        str(out),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    written = sorted(tmp_path.glob("dream-*.png"))
    assert len(written) == 2
    config = json.loads(Image.open(written[0]).text["dreamengine"])["config"]
    assert config["reg"] == ["clamp", "smooth:weight=5", "affine:degrees=10"] and config["init"] == "radial:inner=pink"
    tv = dreamengine("tv", *map(str, written), cwd=tmp_path)
    assert tv.returncode == 0 and [line.split("  ")[1] for line in tv.stdout.splitlines()] == list(map(str, written))
