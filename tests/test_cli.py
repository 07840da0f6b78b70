"""The command line, end to end, on tiny timm models with random weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from dreamengine.cli import cli
from dreamengine.run.imaging import MANIFEST_KEY, read_manifest

TINY = ["--model", "resnet10t", "--size", "32", "--steps", "3"]


def tiny(*args: str) -> list[str]:
    """TINY's options that ``args`` does not give (an option given twice is refused), then ``args``."""
    pairs = [TINY[i : i + 2] for i in range(0, len(TINY), 2)]
    return [part for pair in pairs if pair[0] not in args for part in pair] + list(args)


pytestmark = pytest.mark.usefixtures("builtins_only_cli")


def invoke(runner, *args):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_run_writes_a_png_with_its_manifest(runner, tmp_path):
    out = tmp_path / "out"
    result = invoke(
        runner, "run", *TINY, "--class", "flamingo", "--objective", "logit", "--reg", "blur,flip", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    (png,) = out.glob("*.png")
    assert png.name == "flamingo-seed0.png"
    manifest = read_manifest(png)
    assert manifest["config"]["reg"] == ["blur", "flip"] and manifest["target"] == {
        "index": 130,
        "name": "flamingo",
        "item": 0,
    }
    assert {"torch", "timm", "dreamengine"} <= set(manifest["versions"])
    assert Image.open(png).size == (32, 32)


def test_same_seed_same_bytes_and_from_png_reproduces(runner, tmp_path):
    a, c = tmp_path / "a.png", tmp_path / "c.png"
    invoke(runner, "run", *TINY, "--seed", "7", "-o", str(a))
    first = a.read_bytes()
    invoke(runner, "run", *TINY, "--seed", "7", "-o", str(a))
    assert a.read_bytes() == first
    result = invoke(runner, "run", "--from", str(a), "-o", str(c))
    assert result.exit_code == 0, result.output
    assert Image.open(a).tobytes() == Image.open(c).tobytes()


def test_several_classes_in_one_batch_are_saved_separately(runner, tmp_path):
    result = invoke(runner, "run", *TINY, "-c", "flamingo", "-c", "Great Grey Owl", "-c", "1", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == ["flamingo-seed0.png", "goldfish-seed0.png", "great-grey-owl-seed0.png"]


def test_a_dream_with_other_settings_never_overwrites_another(runner, tmp_path):
    invoke(runner, "run", *TINY, "-o", str(tmp_path))
    first = (tmp_path / "flamingo-seed0.png").read_bytes()
    invoke(runner, "run", *TINY, "-o", str(tmp_path))  # the same settings: the same dream, in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flamingo-seed0.png"]
    result = invoke(runner, "run", *TINY, "--lr", "0.1", "--side-by-side", "-o", str(tmp_path))
    assert "flamingo-seed0-2.png" in result.output
    assert (tmp_path / "flamingo-seed0.png").read_bytes() == first
    assert read_manifest(tmp_path / "flamingo-seed0-2.png")["config"]["lr"] == 0.1
    assert (tmp_path / "flamingo-seed0-2-side.png").exists()
    (tmp_path / "toucan-seed0.png").write_bytes(b"a file of the user's, not a dream")
    invoke(runner, "run", *TINY, "-c", "toucan", "-o", str(tmp_path))
    assert (tmp_path / "toucan-seed0.png").read_bytes() == b"a file of the user's, not a dream"
    assert read_manifest(tmp_path / "toucan-seed0-2.png")["target"]["name"] == "toucan"


def test_side_by_side_and_animation(runner, tmp_path):
    result = invoke(
        runner, "run", *TINY, "--side-by-side", "--save-every", "1", "--animation", "webp", "-o", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    side = Image.open(tmp_path / "flamingo-seed0-side.png")
    assert side.size == (32 * 2 + 4, 32)
    animation = Image.open(tmp_path / "flamingo-seed0.webp")
    assert animation.n_frames == 4


def test_an_animation_ends_on_the_dream_and_one_asked_for_without_frames_is_said_to_be_missing(runner, tmp_path):
    result = invoke(
        runner,
        "run",
        *TINY,
        "--strategy",
        "none",
        "--save-every",
        "2",
        "--animation",
        "webp",
        "-o",
        str(tmp_path / "a.png"),
    )  # 3 steps
    assert result.exit_code == 0, result.output
    animation = Image.open(tmp_path / "a.webp")  # lossless
    assert animation.n_frames == 3  # the start, step 2, step 3
    animation.seek(2)
    last, dream = (np.asarray(picture.convert("RGB")) for picture in (animation, Image.open(tmp_path / "a.png")))
    assert np.array_equal(last, dream)
    result = invoke(runner, "run", *TINY, "--animation", "webp", "-o", str(tmp_path / "b.png"))
    assert result.exit_code == 0 and not (tmp_path / "b.webp").exists()
    assert "no animation was written: --animation webp needs frames, every N steps with --save-every N" in " ".join(
        result.output.split()
    )


def test_options_from_spec_set_and_config_file(runner, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        'steps = 2\nreg = ["clamp", "blur:sigma=0.3"]\ninit = "gradient:start=red:end=blue:angle=90"\n'
        "[options.blur]\nsigma_max = 0.9\n"
    )
    out = tmp_path / "d.png"
    result = invoke(
        runner,
        "run",
        "--model",
        "resnet10t",
        "--size",
        "32",
        "--config",
        str(config),
        "-s",
        "clamp.max=0.9",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    stored = read_manifest(out)["config"]
    assert stored["steps"] == 2 and stored["init"].startswith("gradient")
    assert stored["options"] == {"blur": {"sigma_max": 0.9}, "clamp": {"max": "0.9"}}
    assert max(Image.open(out).getextrema()[0]) <= round(0.9 * 255)


def test_a_config_file_takes_class_as_a_synonym_and_whole_numbers_for_decimals(runner, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('class = "toucan"\nlr = 1\nsteps = 1\n')
    out = tmp_path / "d.png"
    assert invoke(runner, "run", *TINY, "--config", str(config), "-o", str(out)).exit_code == 0
    stored = read_manifest(out)
    assert stored["config"]["classes"] == ["toucan"] and stored["config"]["lr"] == 1.0
    assert stored["target"]["name"] == "toucan"


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "config file '{path}' does not exist."),
        ("steps = [\n", "config file '{path}' is not valid TOML: "),
        ('clas = "toucan"\n', "config file '{path}': unknown setting 'clas'. Did you mean 'classes'?"),
        ('steps = "ten"\n', "setting 'steps' in config file '{path}' must be int, got 'ten'."),
        ("options = {blur = 1}\n", "'options' in config file '{path}' must be a table of tables"),
        ('optimizer = "adagrad"\n', "unknown optimizer 'adagrad'. Available: adam, adamw, sgd."),
    ],
)
def test_a_bad_config_file_is_one_clear_line(runner, tmp_path, text, message):
    path = tmp_path / "run.toml"
    if text is not None:
        path.write_text(text)
    result = runner.invoke(cli, ["run", *TINY, "--config", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert message.format(path=path) in " ".join(result.output.split())


def test_preset_applies_and_options_override_it(runner, tmp_path):
    out = tmp_path / "r.png"
    result = invoke(
        runner, "run", "--preset", "report", "--model", "resnet10t", "--size", "32", "--steps", "2", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    stored = read_manifest(out)["config"]
    assert stored["preset"] == "report" and stored["reg"] == ["clamp", "blur:sigma=0.5", "flip"]
    assert stored["model"] == "resnet10t" and (tmp_path / "r-side.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--class", "flamingoo"], "Did you mean 'flamingo'"),
        (["--class", "5000"], "out of range"),
        (["--reg", "blurr"], "Did you mean 'blur'"),
        (["--reg", "blur:sigm=1"], "Did you mean 'sigma'"),
        (["--reg", "blur:sigma=1:2"], "malformed option"),
        (["--objective", "logit + 0.5*"], "at position 13: expected one component spec"),
        (["--objective", "logit + flip"], "regularizer without a penalty"),
        (["--reg", "blur:sigma=abc"], "must be float"),
        (["--objective", "layer:layer=layer9"], "(67 in all). `dreamengine layers` lists them with their outputs."),
        (["--init", "photo:path=missing.jpg"], "does not exist"),
        (["--model", "resnet10"], "Did you mean"),
        (["--model", "nosuchnet"], "unknown model 'nosuchnet'. Use a registered model (efficientnet-lite0, "),
        (["-s", "blur.sigma=1", "--reg", "clamp"], "does not use"),
        (["--optimizer", "adagrad"], "Invalid value"),
        (["--steps", "0"], "--steps must be at least 1, got 0."),
        (["--lr", "-0.5"], "--lr must be above 0 and finite, got -0.5."),
        (["--lr", "inf"], "--lr must be above 0 and finite, got inf."),
        (["--save-every", "-1"], "--save-every must be 0 (off) or more, got -1."),
        (["--reg", "blur:sigma=-1"], "need 0 <= sigma <= sigma_max, got sigma=-1.0, sigma_max=None"),
        (["--size", "100x6"], "the dream size must be at least 8 pixels, got 100x6 (width x height)."),
        (["--seed", "99999999999999999999"], "is not in the range 0<=x<=4294967295"),
        (["--seed", "-1"], "is not in the range 0<=x<=4294967295"),
        (["--reg", "blur:sigma=nan"], "option 'sigma' of 'blur' must be a finite number, got nan."),
        (["--init", "gradient:angle=inf"], "option 'angle' of 'gradient' must be a finite number, got inf."),
        (["--strategy", "octaves:count=1000000000000"], "count must be 1 to 64, got 1000000000000"),
    ],
)
def test_bad_input_gets_one_clear_line(runner, args, message):
    result = runner.invoke(cli, ["run", *tiny(*args)])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


class InductorError(RuntimeError):
    """As torch raises it when there is no C++ compiler for --compile (its module is what marks it)."""


InductorError.__module__ = "torch._inductor.exc"


@pytest.mark.parametrize(
    "error, message",
    [
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                "tried to allocate 10800000000 bytes. Error code 12 (Cannot allocate memory)"
            ),
            "Error: out of memory (it asked for 10.1 GiB more). Ask for less at once: a smaller --size",
        ),
        (
            torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79 GiB"
            ),
            "Error: out of memory on CUDA. Ask for less at once",
        ),
        (MemoryError(), "Error: out of memory. Ask for less at once"),
        (
            InductorError("InvalidCxxCompiler: No working C++ compiler found\n\nSet TORCHDYNAMO_VERBOSE=1 ..."),
            "Error: torch.compile failed (InvalidCxxCompiler: No working C++ compiler found). --compile is opt-in: run "
            "without it.",
        ),
    ],
)
def test_running_out_of_memory_or_a_failed_compile_is_one_clear_line(runner, monkeypatch, error, message):
    def failing(host, config):
        raise error

    monkeypatch.setattr("dreamengine.run.prepare.prepare", failing)
    result = runner.invoke(cli, ["run", *TINY])
    assert result.exit_code == 1 and message in " ".join(result.output.split()) and "Traceback" not in result.output


def test_other_runtime_errors_are_not_taken_for_memory_or_compile_failures(runner, monkeypatch):
    def broken(host, config):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr("dreamengine.run.prepare.prepare", broken)
    result = runner.invoke(cli, ["run", *TINY])
    assert isinstance(result.exception, RuntimeError) and "out of memory" not in result.output
    assert "torch.compile" not in result.output


def test_pretrained_weights_that_cannot_be_downloaded_are_one_clear_line(runner, monkeypatch):
    def offline(name, pretrained=False, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr("timm.create_model", offline)
    monkeypatch.setattr("dreamengine_builtins.models._hub_reachable", lambda: True)  # it answers; the download fails
    result = runner.invoke(cli, ["run", *TINY, "--pretrained"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        "could not download pretrained weights for 'resnet10t' (ConnectionError); check the network, or run "
        "without --pretrained"
    ) in " ".join(result.output.split())


def test_pretrained_weights_timm_does_not_have_are_one_line_that_says_so_not_a_network_problem(runner, monkeypatch):
    monkeypatch.setattr("timm.create_model", lambda *a, **k: pytest.fail("tried to download"))
    result = runner.invoke(cli, ["run", "--model", "botnet50ts_256", "--pretrained", "--steps", "1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        "timm has no pretrained weights for 'botnet50ts_256': run without --pretrained (random weights), or train "
        "it first"
    ) in " ".join(result.output.split())


def test_corrupt_photo_and_unwritable_output(runner, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    result = runner.invoke(cli, ["run", *TINY, "--init", f"photo:path={bad}"])
    assert result.exit_code == 1 and "not a readable image" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(cli, ["run", *TINY, "-o", str(blocker / "sub")])
    assert result.exit_code == 1 and "cannot write" in result.output


EXPLODES = '''
    from dreamengine import Objective, hookimpl

    class Explode(Objective):
        """Turns NaN after ``after`` steps, as a run at a far too high learning rate does."""
        def __init__(self, after: int = 2):
            self.calls = 0
            self.after = after
        def __call__(self, outputs):
            self.calls += 1
            score = outputs.logits.gather(1, outputs.targets[:, None])[:, 0]
            return score if self.calls <= self.after else score * float("nan")

    @hookimpl
    def dreamengine_register_objectives(register):
        register("explode", Explode)
'''


@pytest.mark.parametrize(
    "output, message",
    [
        ("x.gif", "--output 'x.gif' names a .gif file, but dreams are written as PNG"),
        ("taken", "cannot write into 'taken': 'taken' is a file, not a folder."),
        ("taken/sub/d.png", "cannot write into 'taken/sub': 'taken' is a file, not a folder."),
        ("folder.png", "--output 'folder.png' is a folder, but a name ending in .png names the dream's file"),
        (
            "holiday.png",
            "--output 'holiday.png' is there and is not a dream (it carries no dreamengine run settings); "
            "a dream replaces only an earlier dream: name another file.",
        ),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_the_dream(runner, tmp_path, monkeypatch, output, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("not a folder")
    (tmp_path / "folder.png").mkdir()
    Image.new("RGB", (8, 8), "red").save(tmp_path / "holiday.png")
    monkeypatch.setattr("dreamengine.run.prepare.load_model", lambda *a: pytest.fail("the model was loaded"))
    result = runner.invoke(cli, ["run", *TINY, "-o", output])
    assert result.exit_code == 1 and message in " ".join(result.output.split())


def test_an_output_file_replaces_an_earlier_dream_there(runner, tmp_path):
    out = tmp_path / "d.png"
    assert runner.invoke(cli, ["run", *TINY, "-o", str(out)]).exit_code == 0
    assert runner.invoke(cli, ["run", *TINY, "--seed", "1", "-o", str(out)]).exit_code == 0
    assert read_manifest(out)["config"]["seed"] == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["d.png"]


def test_divergence_is_reported_and_the_last_finite_image_kept(runner, tmp_path, fake_distribution, monkeypatch):
    fake_distribution("dreamengine-explode", "fake_explode", EXPLODES)
    monkeypatch.delenv("DREAMENGINE_NO_ENTRYPOINTS")
    out = tmp_path / "nan.png"
    result = runner.invoke(cli, ["run", *tiny("--steps", "5"), "--lr", "3", "--objective", "explode", "-o", str(out)])
    assert result.exit_code == 1
    assert "diverged at step 3" in result.output and "learning rate 3" in result.output
    stored = read_manifest(out)
    assert stored["steps_done"] == 2 and "diverged" in stored["diverged"]


def test_a_run_that_diverges_at_its_first_step_is_an_error_and_writes_nothing(
    runner, tmp_path, fake_distribution, monkeypatch
):
    fake_distribution("dreamengine-explode", "fake_explode", EXPLODES)
    monkeypatch.delenv("DREAMENGINE_NO_ENTRYPOINTS")
    out = tmp_path / "nan.png"
    result = runner.invoke(cli, ["run", *TINY, "--objective", "explode:after=0", "-o", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "diverged at step 1" in result.output and "No step finished: nothing was kept." in result.output
    assert not out.exists()


INTERRUPTS = '''
    from dreamengine import Objective, hookimpl

    class Interrupted(Objective):
        """Ctrl-C during the first step."""
        def __call__(self, outputs):
            raise KeyboardInterrupt

    @hookimpl
    def dreamengine_register_objectives(register):
        register("interrupted", Interrupted)

    @hookimpl
    def dreamengine_step_end(job, step, scores):
        if step == 5:  # Ctrl-C during the fifth step's progress report: in the second octave of three
            raise KeyboardInterrupt
'''


def test_ctrl_c_keeps_the_dream_so_far_at_the_asked_size(runner, tmp_path, fake_distribution, monkeypatch):
    fake_distribution("dreamengine-interrupts", "fake_interrupts", INTERRUPTS)
    monkeypatch.delenv("DREAMENGINE_NO_ENTRYPOINTS")
    out = tmp_path / "stopped.png"
    result = runner.invoke(
        cli, ["run", *tiny("--steps", "9"), "--strategy", "octaves:count=3", "--side-by-side", "-o", str(out)]
    )
    assert result.exit_code == 130, result.output
    assert "Interrupted after step 5 of 9: kept the dream so far" in result.output and "Traceback" not in result.output
    stored = read_manifest(out)
    assert stored["steps_done"] == 5 and stored["interrupted"] is True and stored["diverged"] is None
    assert Image.open(out).size == (32, 32) and out.with_name("stopped-side.png").exists()


def test_ctrl_c_never_replaces_the_finished_dream_of_the_same_settings(
    runner, tmp_path, fake_distribution, monkeypatch
):
    invoke(runner, "run", *tiny("--steps", "9"), "-o", str(tmp_path))
    finished = (tmp_path / "flamingo-seed0.png").read_bytes()
    fake_distribution("dreamengine-interrupts", "fake_interrupts", INTERRUPTS)
    monkeypatch.delenv("DREAMENGINE_NO_ENTRYPOINTS")
    monkeypatch.setattr("dreamengine.cli.group._HOST", None)
    assert runner.invoke(cli, ["run", *tiny("--steps", "9"), "-o", str(tmp_path)]).exit_code == 130
    assert (tmp_path / "flamingo-seed0.png").read_bytes() == finished
    assert read_manifest(tmp_path / "flamingo-seed0-2.png")["interrupted"] is True
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")
    monkeypatch.setattr("dreamengine.cli.group._HOST", None)
    invoke(runner, "run", *tiny("--steps", "9"), "-o", str(tmp_path))  # finished again: the same dream, in place
    assert (tmp_path / "flamingo-seed0.png").read_bytes() == finished


def test_ctrl_c_before_the_first_step_writes_nothing(runner, tmp_path, fake_distribution, monkeypatch):
    fake_distribution("dreamengine-interrupts", "fake_interrupts", INTERRUPTS)
    monkeypatch.delenv("DREAMENGINE_NO_ENTRYPOINTS")
    result = runner.invoke(cli, ["run", *TINY, "--objective", "interrupted", "-o", str(tmp_path / "none.png")])
    assert result.exit_code == 130 and "nothing written" in result.output
    assert not list(tmp_path.glob("*.png"))


def test_list_shows_components_with_options(runner):
    result = invoke(runner, "list", "regularizers")
    assert result.exit_code == 0
    for text in ("blur", "sigma: float = 0.5", "dreamengine_builtins.projections", "jitter"):
        assert text in result.output
    assert "of up to pixels" in result.output and "``" not in result.output  # docstring literals, rendered
    assert "flamingo" not in result.output
    assert "report" in invoke(runner, "list", "presets").output
    assert "efficientnet-lite0" in invoke(runner, "list", "models").output
    assert invoke(runner, "list", "things").exit_code != 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["regularizers", "blurr"], "unknown regularizer 'blurr'. Did you mean 'blur' or 'gradblur'?"),
        (["strategy", "x*"], "no strategy matches 'x*'; `dreamengine list strategies` lists them all."),
    ],
)
def test_list_with_a_pattern_that_matches_nothing_says_so(runner, args, message):
    result = runner.invoke(cli, ["list", *args])
    assert result.exit_code == 1 and message in result.output and "┃" not in result.output  # and no empty table


def test_plugins_lists_builtins_with_hooks(runner):
    result = invoke(runner, "plugins")
    assert result.exit_code == 0
    assert "dreamengine_builtins.objectives" in result.output and "dreamengine_register_objectives" in result.output
    presets = invoke(runner, "plugins", "--hook", "register_presets").output
    assert "dreamengine_builtins.presets" in presets and "dreamengine_builtins.objectives" not in presets
    unknown = runner.invoke(cli, ["plugins", "--hook", "step_ends"])
    assert unknown.exit_code == 1 and "unknown hook 'step_ends'. Did you mean" in unknown.output


def test_manifest_is_plain_json_in_the_png(runner, tmp_path):
    out = tmp_path / "m.png"
    invoke(runner, "run", *TINY, "-o", str(out))
    assert json.loads(Image.open(out).text[MANIFEST_KEY])["config"]["seed"] == 0


def test_layer_objective_and_photo_start_from_the_cli(runner, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (50, 40), (200, 30, 30)).save(photo)
    out = tmp_path / "layer.png"
    result = invoke(
        runner,
        "run",
        *TINY,
        "--objective",
        "layer:layer=layer2:channel=3",
        "--init",
        f"photo:path={photo}:blur=2",
        "--reg",
        "clamp",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    red, green, _ = Image.open(out).resize((1, 1)).getpixel((0, 0))
    assert red > green + 100  # it started from the red photo
    result = runner.invoke(cli, ["run", *TINY, "--objective", "layer:layer=layer2:channel=999"])
    assert result.exit_code == 1 and "999" in result.output


@pytest.mark.parametrize("objective, name", [("logit:toucan", "logit-toucan"), ("layer:layer2", "layer-layer2")])
def test_a_dream_toward_no_class_is_named_after_its_objective_not_the_default_class(runner, tmp_path, objective, name):
    result = invoke(runner, "run", *TINY, "--objective", objective, "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}-seed0.png"]  # not flamingo-seed0.png
    assert read_manifest(tmp_path / f"{name}-seed0.png")["target"] is None
    assert f"dreaming {objective}" in result.output and "│ dream " in result.output.replace("┃", "│")


def test_a_long_objective_makes_a_file_name_of_bounded_length(runner, tmp_path):
    objective = " + ".join(f"0.1*layer:layer{1 + i % 4}" for i in range(40))
    result = invoke(runner, "run", *TINY, "--objective", objective, "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.iterdir()
    assert path.name == "0-1-layer-layer1-0-1-layer-layer2-0-1-layer-layer3-0-1-layer-layer4-0-1-layer-la-seed0.png"
    assert len(path.stem) == 80 + len("-seed0")


def test_size_is_square_or_width_by_height(runner, tmp_path):
    out = tmp_path / "wide.png"
    result = invoke(runner, "run", "--model", "resnet10t", "--steps", "1", "--size", "40x24", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (40, 24) and read_manifest(out)["config"]["size"] == "40x24"
    result = invoke(runner, "run", "--model", "resnet10t", "--steps", "1", "--size", "24", "-o", str(out))
    assert Image.open(out).size == (24, 24) and read_manifest(out)["config"]["size"] == 24
    result = runner.invoke(cli, ["run", "--size", "big"])
    assert result.exit_code == 1 and "size must be N (square) or WIDTHxHEIGHT" in result.output


def test_from_a_dream_made_elsewhere_explains_its_relative_checkpoint(runner, tmp_path, checkpoints, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ck.pt").write_bytes((checkpoints / "epoch-001.pt").read_bytes())
    assert (
        invoke(
            runner, "run", "--checkpoint", "ck.pt", "--size", "16", "--steps", "1", "-c", "0", "-o", "made.png"
        ).exit_code
        == 0
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = runner.invoke(cli, ["run", "--from", "../made.png", "-o", "again.png"])
    assert result.exit_code == 1 and "relative to where the dream was made" in result.output
    result = runner.invoke(cli, ["run", "--from", "../made.png", "--checkpoint", "../ck.pt", "-o", "again.png"])
    assert result.exit_code == 0, result.output
    assert Image.open("again.png").tobytes() == Image.open("../made.png").tobytes()

    Image.new("RGB", (16, 16), "orange").save(tmp_path / "start.png")
    monkeypatch.chdir(tmp_path)
    assert invoke(runner, "run", *TINY, "--init", "photo:path=start.png", "-o", "photo.png").exit_code == 0
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = runner.invoke(cli, ["run", "--from", "../photo.png", "-o", "again.png"])
    assert result.exit_code == 1 and "dreamed with start image 'start.png'" in " ".join(result.output.split())


def test_a_checkpoint_without_the_default_class_says_to_name_one(runner, checkpoints):
    result = runner.invoke(cli, ["run", "--checkpoint", str(checkpoints / "epoch-001.pt"), "--steps", "1"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "unknown class 'flamingo'. Available: blue-discs" in said
    assert "'flamingo' is only the default class: name one of this model's classes with -c." in said
    named = runner.invoke(cli, ["run", "--checkpoint", str(checkpoints / "epoch-001.pt"), "-c", "flamingoo"])
    assert named.exit_code == 1 and "default class" not in named.output


def test_an_objective_that_reads_no_class_needs_none_of_the_models(runner, checkpoints, tmp_path):
    result = runner.invoke(
        cli,
        [
            "run",
            "--checkpoint",
            str(checkpoints / "epoch-001.pt"),
            "--objective",
            "layer:layer1",
            "--steps",
            "1",
            "-o",
            str(tmp_path),
        ],
    )  # the default class: flamingo
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["layer-layer1-seed0.png"]


def test_a_model_named_beside_a_checkpoint_is_said_to_be_unused(runner, checkpoints):
    checkpoint = str(checkpoints / "epoch-001.pt")
    result = runner.invoke(
        cli,
        [
            "run",
            "--checkpoint",
            checkpoint,
            "--model",
            "efficientnet-lite2",
            "--size",
            "16",
            "--steps",
            "1",
            "-c",
            "0",
            "-o",
            str(checkpoints.parent / "unused.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # as one line, however the terminal wrapped it
    assert "warning: --model efficientnet-lite2 is not used: checkpoint" in output
    assert "holds its own network (test_resnet)" in output


def test_a_run_finishing_as_another_writes_its_dream_never_replaces_that_dream(runner, tmp_path, monkeypatch):
    """Two runs into one folder, with other settings: the name the second picked is taken by the first just before
    the second writes (the first run is played by writing a file there at that moment). Both dreams are kept."""
    from dreamengine.run import outputs as outputs

    invoke(runner, "run", *TINY, "--lr", "0.2", "-o", str(tmp_path / "other"))
    other = (tmp_path / "other" / "flamingo-seed0.png").read_bytes()
    write, raced = outputs.write_atomic, []

    def racing(path, *args, replace=True):
        if not replace and not raced:  # the name was free when judged
            raced.append(path)
            path.write_bytes(other)
        return write(path, *args, replace=replace)

    monkeypatch.setattr(outputs, "write_atomic", racing)
    result = invoke(runner, "run", *TINY, "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert raced == [tmp_path / "flamingo-seed0.png"] and (tmp_path / "flamingo-seed0.png").read_bytes() == other
    assert read_manifest(tmp_path / "flamingo-seed0-2.png")["config"]["lr"] != 0.2
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["flamingo-seed0-2.png", "flamingo-seed0.png"]


def test_a_dangling_link_where_a_dream_would_go_is_stepped_around(runner, tmp_path):
    (tmp_path / "flamingo-seed0.png").symlink_to(tmp_path / "gone.png")
    result = invoke(runner, "run", *TINY, "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "flamingo-seed0.png").is_symlink() and read_manifest(tmp_path / "flamingo-seed0-2.png")
