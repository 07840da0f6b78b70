"""The plugin as dreamengine sees it: hooks, conformance, the installed entry point and the command line."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from dreamengine import DreamResult, RunConfig
from dreamengine.testing import assert_conformance, plugin_host
from dreamengine_extras import plugin
from dreamengine_extras.commands import tv_command
from dreamengine_extras.sidecar import SWITCH

PLUGIN = "dreamengine_extras.plugin"  # the name plugin_host gives it: the module's name


@pytest.fixture
def host():
    with plugin_host(plugin) as host:
        yield host


def test_components_are_registered_beside_the_builtins(host):
    registry = host.registry
    assert [e.name for e in registry.find("parametrizations") if e.plugin == PLUGIN] == ["pyramid"]
    assert {e.name for e in registry.find("initializers") if e.plugin == PLUGIN} == {"radial", "checkerboard"}
    assert "fft" in registry.names("parametrizations") and "gray" in registry.names("initializers")


def test_every_component_passes_the_conformance_check(host):
    assert_conformance(
        host.registry,
        plugin=PLUGIN,
        options={"pyramid": [{}, {"levels": 1}, {"levels": 8}], "checkerboard": [{}, {"size": 1}]},
    )


def test_the_loader_serves_colours_and_leaves_other_names_to_the_next_loader(host):
    model = host.hook.dreamengine_load_model(name="colours:red,teal", pretrained=False, num_classes=None, in_chans=3)
    assert model.class_names == ["red", "teal"]
    assert plugin.dreamengine_load_model(name="resnet10t", num_classes=None) is None


def test_the_run_observer_writes_a_sidecar_only_when_asked(host, tmp_path, monkeypatch):
    dream = tmp_path / "dream.png"
    finished = {
        "config": RunConfig(),
        "result": DreamResult(torch.zeros(1, 3, 4, 4), torch.ones(1), 3),
        "paths": [dream],
    }
    monkeypatch.delenv(SWITCH, raising=False)
    host.hook.dreamengine_run_end(**finished)
    assert not (tmp_path / "dream.scores.json").exists()
    monkeypatch.setenv(SWITCH, "1")
    host.hook.dreamengine_run_end(**finished)
    assert json.loads((tmp_path / "dream.scores.json").read_text())["scores"] == [1.0]


def test_the_entry_module_and_its_command_import_no_torch():
    """What `dreamengine --help` does with the plugin: import its entry module and add its commands."""
    code = (
        "import sys, click, dreamengine_extras.plugin as plugin\n"
        "plugin.dreamengine_register_commands(cli=click.Group())\n"
        "print(sorted({'torch', 'numpy', 'PIL'} & set(sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


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


def dreamengine(*args: str, cwd: Path, **environ: str) -> subprocess.CompletedProcess:
    """Run the installed ``dreamengine`` script, as a user would."""
    script = Path(sys.executable).with_name("dreamengine")
    return subprocess.run(
        [str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200", "DREAMENGINE_NO_ENTRYPOINTS": "0", **environ},
    )


def test_installed_the_cli_lists_the_plugin_and_its_components(tmp_path):
    plugins = dreamengine("plugins", cwd=tmp_path)
    assert plugins.returncode == 0, plugins.stderr
    assert "extras" in plugins.stdout and "dreamengine-extras" in plugins.stdout
    listing = dreamengine("list", "parametrizations", cwd=tmp_path)
    assert "pyramid" in listing.stdout and "levels: int = 4" in listing.stdout


def test_installed_a_run_uses_the_plugins_model_parametrization_start_and_sidecar(tmp_path):
    run = dreamengine(
        *("run", "--model", "colours:red,teal", "--size", "24", "--steps", "3", "-c", "teal", "-c", "red"),
        *("--param", "pyramid:levels=3", "--init", "checkerboard:size=4", "--strategy", "none", "-o", "dream.png"),
        cwd=tmp_path,
        DREAMENGINE_EXTRAS_SIDECAR="1",
    )
    assert run.returncode == 0, run.stderr
    written = sorted(tmp_path.glob("dream-*.png"))
    assert [path.name for path in written] == ["dream-red.png", "dream-teal.png"]
    config = json.loads(Image.open(written[0]).text["dreamengine"])["config"]
    assert config["model"] == "colours:red,teal" and config["param"] == "pyramid:levels=3"
    sidecar = json.loads((tmp_path / "dream-teal.scores.json").read_text())
    assert sidecar["steps"] == 3 and len(sidecar["scores"]) == 2 and sidecar["model"] == "colours:red,teal"
    tv = dreamengine("tv", *map(str, written), cwd=tmp_path)
    assert tv.returncode == 0 and [line.split("  ")[1] for line in tv.stdout.splitlines()] == list(map(str, written))
