"""Settings parsed once, at the edge: the typed view of a RunConfig's component specs, and the limits on what
comes in (issue 19)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from dreamengine import DreamError, DreamModel, Initializer, RunConfig, Strategy, hookimpl
from dreamengine.cli import cli
from dreamengine.options import ComponentSpec, parse_spec, split_specs
from dreamengine.run.batch import warn_if_huge
from dreamengine.run.config import MAX_SIZE, MAX_STEPS, load_toml
from dreamengine.run.execute import dream
from dreamengine.run.prepare import load_model, start_file
from dreamengine.run.specs import parse_run_specs
from dreamengine.testing import make_host, tiny_model
from dreamengine_builtins.tiling import Tile

pytestmark = pytest.mark.usefixtures("builtins_only_cli")


def test_the_specs_are_parsed_into_typed_values_and_kept_as_text():
    config = RunConfig(reg="clamp, blur:0.5,none", strategy="none", init="photo:path=a.jpg", objective="logit; tv")
    assert config.reg == ["clamp", "blur:0.5", "none"] and config.strategy == ["none"]  # the text, one spec each
    specs = config.specs
    assert [str(spec) for spec in specs.reg] == ["clamp", "blur:0.5"] and specs.strategy == ()
    assert specs.init == ComponentSpec("photo", {"path": "a.jpg"})
    assert [text for text, _ in specs.objective.parts] == ["logit", "tv"]
    assert config.to_dict()["reg"] == ["clamp", "blur:0.5", "none"]


def test_the_typed_view_is_parsed_once_per_text_and_follows_a_change():
    config = RunConfig()
    before = parse_run_specs.cache_info().misses
    assert config.specs is RunConfig().specs
    assert parse_run_specs.cache_info().misses == before
    config.reg = ["flip"]
    assert [spec.name for spec in config.specs.reg] == ["flip"]


def test_a_malformed_spec_is_refused_where_the_settings_come_in():
    with pytest.raises(DreamError, match="malformed component spec 'blur:'"):
        RunConfig().updated({"reg": ["clamp", "blur:"]}, "config file 'x.toml'")


@pytest.mark.parametrize("text, specs", [("", []), ("none", ["none"]), (" blur , flip:p=1", ["blur", "flip:p=1"])])
def test_specs_are_split_in_one_place(text, specs):
    assert split_specs(text) == specs


@pytest.mark.parametrize("text", [",,,", "blur,", ",blur", "blur,,flip", " , "])
def test_an_empty_spec_between_commas_is_refused(text):
    with pytest.raises(DreamError, match="an empty component spec"):
        split_specs(text)


def test_a_repeated_single_valued_option_is_refused(runner):
    for option, values in (("--seed", ("1", "2")), ("--steps", ("5", "5")), ("--init", ("gray", "noise"))):
        result = runner.invoke(cli, ["run", option, values[0], option, values[1]])
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '{option}': given 2 times ({', '.join(values)}); give it once." in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--reg", ",,,"], "setting 'reg' in the command line: an empty component spec in ',,,'"),
        (["--strategy", "octaves,"], "setting 'strategy' in the command line: an empty component spec in 'octaves,'"),
        (
            ["--steps", "9223372036854775808"],
            f"setting 'steps' in the command line must be at most {MAX_STEPS:,}, got 9,223,372,036,854,775,808.",
        ),
        (["--size", "8193"], f"size must be at most {MAX_SIZE} pixels a side"),
        (["--size", "64x9000"], f"size must be at most {MAX_SIZE} pixels a side"),
    ],
)
def test_settings_beyond_their_limits_are_refused_in_one_line(runner, args, message):
    result = runner.invoke(cli, ["run", *args])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_a_config_file_of_binary_bytes_is_one_line(tmp_path, runner):
    path = tmp_path / "settings.toml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(DreamError, match="is not valid TOML: it is not UTF-8 text"):
        load_toml(path)
    result = runner.invoke(cli, ["run", "--config", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["5", "true", "{ a = 1 }"])
def test_classes_in_a_config_file_must_be_a_name_or_a_list(tmp_path, runner, value):
    path = tmp_path / "settings.toml"
    path.write_text(f"classes = {value}\n")
    result = runner.invoke(cli, ["run", "--config", str(path)])
    assert result.exit_code == 1, result.output
    assert "setting 'classes' in config file" in result.output and "must list one class or more" in result.output


class Canvas(Initializer):
    """A third party's start made from a file: it declares the file, as the built-in photo does."""

    def __init__(self, file: str) -> None:
        self.file = file

    def source(self):
        return self.file

    def __call__(self, batch, height, width, generator):
        return torch.full((batch, 3, height, width), 0.5)


class Stripes(Strategy):
    """A third party's strategy that shows the network a bounded part of the image at a time."""

    bounds_memory = True

    def run(self, job, loop):
        return loop(job)


class Painter:
    @hookimpl
    def dreamengine_register_initializers(self, register):
        register("canvas", Canvas)


def test_the_core_asks_a_start_which_file_it_is_made_from_not_its_name():
    registry = make_host(Painter()).registry
    assert start_file(registry, parse_spec("canvas:file=art/linen.png")) == Path("art/linen.png")
    assert start_file(registry, parse_spec("photo"), {"path": "me.jpg"}) == Path("me.jpg")
    assert start_file(registry, parse_spec("gray")) is None and Initializer().source() is None


def test_a_strategy_that_bounds_memory_is_not_warned_about_a_large_dream():
    assert not Strategy.bounds_memory and Tile.bounds_memory
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_huge([Stripes()], (16, 16), 1024, 1024, 1)
    with pytest.warns(UserWarning, match="4096x the pixels of its 16x16 input"):
        warn_if_huge([], (16, 16), 1024, 1024, 1)


def test_settings_parse_without_torch():
    """Parsing settings stays light: a command that only reads them need not import torch."""
    code = "import sys, dreamengine.run.config; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ}).returncode == 0


class FixedModel:
    """A model whose weights do not depend on the run's seed: only the seeded draws can tell two seeds apart."""

    @hookimpl
    def dreamengine_register_models(self, register):
        register("fixed", lambda pretrained: tiny_model())


@pytest.mark.parametrize("init", ["noise", "gray"])
def test_the_seed_governs_the_dream_through_the_real_prepare_path(tmp_path, monkeypatch, init):
    """The same seed writes the same bytes; another seed another dream, from a noise start (the initializer's draws)
    or a gray one (the regularizers' draws: flip, jitter, scale, rotate), with weights that ignore the seed."""
    host = make_host(FixedModel())

    def dreamt(seed, folder):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)  # the same --output in each run's settings
        settings = dict(model="fixed", classes=["class1"], size=16, steps=4, strategy="none", device="cpu")
        outcome = dream(host, RunConfig(**settings, init=init, seed=seed, output="dreams"))
        return outcome.result.image, outcome.paths[0].read_bytes()

    first, first_bytes = dreamt(1, "a")
    again, again_bytes = dreamt(1, "b")
    other, _ = dreamt(2, "c")
    assert first_bytes == again_bytes and torch.equal(first, again)
    assert (first - other).abs().max() > 1e-3


class DrawnModel:
    """A model whose weights are drawn from torch's global random state, as an untrained timm model's are."""

    @hookimpl
    def dreamengine_register_models(self, register):
        register("drawn", lambda pretrained: DreamModel(torch.nn.Conv2d(3, 4, 3), name="drawn", input_size=(8, 8)))


def test_a_model_with_random_weights_draws_them_under_the_runs_seed_and_leaves_the_global_state_alone():
    host = make_host(DrawnModel())
    state = torch.random.get_rng_state()

    def weights(seed):
        return load_model(host, RunConfig(model="drawn", seed=seed)).net.weight

    assert torch.equal(weights(1), weights(1)) and not torch.equal(weights(1), weights(2))
    assert torch.equal(torch.random.get_rng_state(), state)
