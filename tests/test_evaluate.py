"""`dreamengine evaluate` and dreamengine.analysis.evaluation: judging dreams with another network."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from dreamengine import DreamError, DreamModel, RunConfig, hookimpl
from dreamengine.analysis.evaluation import (
    DEFAULT_JUDGES,
    choose_judges,
    collect_dreams,
    evaluate_folder,
    judge_views,
    score_dreams,
    summarise,
    summarise_measures,
)
from dreamengine.engine.folding import NormRemainder
from dreamengine.run.execute import dream
from dreamengine.run.imaging import MANIFEST_KEY, read_manifest, save_png, to_pil
from dreamengine.testing import make_host, tiny_model

SIZE = 32


class ColourNet(torch.nn.Module):
    """Sees red, green, blue and fine 'texture' (mean difference between neighbouring pixels)."""

    num_classes = 4

    def forward(self, image):
        colour = image.mean(dim=(2, 3))
        texture = (image[..., 1:] - image[..., :-1]).abs().mean(dim=(1, 2, 3))
        return 10 * torch.cat([colour, texture[:, None]], dim=1)


def colour_judge(pretrained: bool = False) -> DreamModel:
    """A judge that sees colours and fine texture, at 32x32."""
    return DreamModel(
        ColourNet(),
        name="colour-judge",
        mean=(0, 0, 0),
        std=(1, 1, 1),
        input_size=(SIZE, SIZE),
        class_names=["red", "green", "blue", "texture"],
    )


def tiny_dreamer(pretrained: bool = False) -> DreamModel:
    """The tiny model under the name its dreams record."""
    model = tiny_model()
    model.name = "tiny-dreamer"
    model.class_names = ["red", "green", "blue", "texture"]  # the judge's classes, so it can judge these dreams
    return model


class Judges:
    """A temporary plugin with a dreaming model and a judge."""

    @hookimpl
    def dreamengine_register_models(self, register):
        register("colour-judge", colour_judge)
        register("tiny-dreamer", tiny_dreamer)


@pytest.fixture
def judge_host():
    return make_host(Judges())


def write_dream(path, image, target, name, model="tiny-dreamer"):
    """A PNG with the parts of a dreamengine manifest that evaluate reads."""
    manifest = {
        "config": {"size": image.shape[-1]},
        "model": {"name": model, "input_size": [16, 16]},
        "target": {"index": target, "name": name, "item": 0},
    }
    save_png(to_pil(image), path, manifest)


def solid(red, green, blue):
    return torch.tensor([red, green, blue], dtype=torch.float32).view(3, 1, 1).expand(3, SIZE, SIZE).clone()


def checkerboard():
    rows, cols = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    return ((rows + cols) % 2).float().expand(3, SIZE, SIZE).clone()


@pytest.fixture
def study(tmp_path):
    """Two groups: clear colours (one dream mistargeted) and fine texture."""
    write_dream(tmp_path / "colours" / "red.png", solid(1, 0, 0), 0, "red")
    write_dream(tmp_path / "colours" / "green.png", solid(0, 1, 0), 1, "green")
    write_dream(tmp_path / "colours" / "not-blue.png", solid(1, 0.2, 0), 2, "blue")
    write_dream(tmp_path / "texture" / "checks.png", checkerboard(), 3, "texture")
    return tmp_path


def test_the_judge_scores_each_dream_against_its_own_target(judge_host, study):
    report = evaluate_folder(judge_host, study, ["colour-judge"])
    images = {image["path"]: image["judges"]["colour-judge"]["full"] for image in report.images}
    assert images["colours/red.png"]["rank"] == 0 and images["colours/red.png"]["top1"] == "red"
    assert images["colours/not-blue.png"]["rank"] > 0 and images["colours/not-blue.png"]["top1"] == "red"
    assert images["colours/green.png"]["p_target"] > 0.9
    colours = report.summary["colours"]["judges"]["colour-judge"]["full"]
    assert colours["top1"] == pytest.approx(2 / 3) and colours["top5"] == 1.0
    assert colours["p_target"] == pytest.approx(
        sum(images[f"colours/{n}.png"]["p_target"] for n in ("red", "green", "not-blue")) / 3
    )


def test_the_thumbnail_view_washes_out_fine_texture_but_keeps_colour(judge_host, study):
    report = evaluate_folder(judge_host, study, ["colour-judge"], thumb=8)
    texture = report.summary["texture"]["judges"]["colour-judge"]
    assert texture["full"]["top1"] == 1.0 and texture["thumb"]["top1"] == 0.0
    assert texture["thumb"]["p_target"] < texture["full"]["p_target"] / 2
    colours = report.summary["colours"]["judges"]["colour-judge"]
    assert colours["thumb"]["top1"] == colours["full"]["top1"]
    assert report.views == {"full": None, "thumb": 8}


@pytest.mark.parametrize("view", ["full", "thumb"])
def test_a_dream_of_another_shape_is_cropped_about_its_centre_for_the_judge_not_stretched(view):
    wide = torch.zeros(3, 16, 32)
    wide[2] = 1.0  # blue sides
    wide[:, :, 8:24] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)  # a red square in the middle
    seen = judge_views(thumb=8)[view](wide, (8, 8))
    assert seen.shape == (3, 8, 8)
    red, _, blue = seen.mean(dim=(1, 2))
    assert red > 0.85 and blue < 0.15  # stretched, half of it would be blue (the thumbnail blurs the edges a little)
    square = torch.rand(3, 16, 16)
    assert torch.equal(judge_views(thumb=0)["full"](square, (16, 16)), square)


def test_a_thumbnail_larger_than_the_dream_is_the_dream_itself_not_an_enlargement():
    """--thumb 100000 asked for a 100000-pixel picture (112 GiB) on the way to the judge's input."""
    dream = torch.rand(3, 16, 24)
    assert torch.equal(judge_views(thumb=100_000)["thumb"](dream, (16, 24)), dream)


def test_dreams_can_be_grouped_by_class_or_all_together(judge_host, study):
    by_class = evaluate_folder(judge_host, study, ["colour-judge"], group_by="class")
    assert {g: e["count"] for g, e in by_class.summary.items()} == {"red": 1, "green": 1, "blue": 1, "texture": 1}
    together = evaluate_folder(judge_host, study, ["colour-judge"], group_by="all")
    assert together.summary["all"]["count"] == 4
    assert together.summary["all"]["judges"]["colour-judge"]["full"]["top1"] == pytest.approx(3 / 4)
    with pytest.raises(Exception, match="unknown grouping 'folders'"):
        evaluate_folder(judge_host, study, ["colour-judge"], group_by="folders")


def test_thumb_zero_judges_the_full_view_only(judge_host, study):
    report = evaluate_folder(judge_host, study, ["colour-judge"], thumb=0)
    assert list(report.views) == ["full"]
    assert list(report.summary["colours"]["judges"]["colour-judge"]) == ["full"]


def test_real_dreams_are_read_from_their_manifests(judge_host, tmp_path, one_thread):
    config = RunConfig(
        model="tiny-dreamer",
        classes=["red", "blue"],
        steps=1,
        param="pixel",
        size=20,
        output=str(tmp_path / "run"),
        side_by_side=True,
    )
    dream(judge_host, config)
    dreams, skipped = collect_dreams(tmp_path)
    assert sorted((d.target, d.model, d.group, tuple(d.image.shape)) for d in dreams) == [
        (0, "tiny-dreamer", "run", (3, 20, 20)),
        (2, "tiny-dreamer", "run", (3, 20, 20)),
    ]
    assert [(s.reason, s.companion) for s in skipped] == [("a side-by-side picture", True)] * 2
    report = evaluate_folder(judge_host, tmp_path, ["colour-judge"])
    assert report.summary["run"]["count"] == 2


def test_a_dream_of_a_photos_shape_is_read_at_its_own_size(judge_host, tmp_path, one_thread):
    Image.new("RGB", (30, 20), (220, 30, 30)).save(tmp_path / "photo.png")
    config = RunConfig(
        model="tiny-dreamer",
        classes=["red"],
        steps=1,
        param="pixel",
        size=21,
        side_by_side=True,
        init=f"photo:path={tmp_path / 'photo.png'}",
        output=str(tmp_path / "run"),
    )
    dream(judge_host, config)
    dreams, skipped = collect_dreams(tmp_path / "run")
    assert [tuple(d.image.shape) for d in dreams] == [(3, 14, 21)]  # 21 on the photo's longer side
    assert [(s.reason, s.companion) for s in skipped] == [("a side-by-side picture", True)]


def test_dreams_toward_no_class_are_left_out_with_the_reason(judge_host, tmp_path, one_thread):
    config = RunConfig(
        model="tiny-dreamer",
        classes=["red"],
        steps=1,
        param="pixel",
        size=20,
        objective="layer:conv1",
        output=str(tmp_path / "layer"),
    )
    dream(judge_host, config)
    (path,) = (tmp_path / "layer").glob("*.png")
    assert path.name == "layer-conv1-seed0.png" and read_manifest(path)["target"] is None
    with pytest.raises(DreamError) as error:
        evaluate_folder(judge_host, tmp_path / "layer", ["colour-judge"])
    assert str(error.value).endswith(
        "(1 other PNG(s), e.g. layer-conv1-seed0.png: dreamed toward no class (its "
        "objective, 'layer:conv1', reads no --class): there is no target to judge)."
    )


def test_foreign_and_corrupt_pngs_are_skipped_with_a_reason(judge_host, study):
    dream = sorted(study.rglob("*.png"))[0]
    Image.new("RGB", (8, 8)).save(study / "holiday.png")
    (study / "broken.png").write_bytes(b"\x89PNG not really")
    save_png(to_pil(solid(1, 0, 0)), study / "sheet.png", {"study_sheet": {"class": "red"}})
    save_png(to_pil(solid(1, 0, 0)), study / "montage.png", {"montage": {"labels": ["red"]}})
    save_png(Image.open(dream).resize((5, 7)), study / "resized.png", read_manifest(dream))
    corrupt = PngInfo()
    corrupt.add_text(MANIFEST_KEY, "{not json")
    Image.open(dream).save(study / "corrupt.png", pnginfo=corrupt)
    report = evaluate_folder(judge_host, study, ["colour-judge"])
    reasons = {s.path.name: (s.reason, s.companion) for s in report.skipped}
    assert "not a dreamengine dream" in reasons["holiday.png"][0]
    assert "not a readable image" in reasons["broken.png"][0]
    width, height = Image.open(dream).size
    assert reasons["resized.png"][0] == f"5x7, not the dream's {width}x{height} (resized since?)"
    assert reasons["corrupt.png"][0].startswith("its dreamengine settings are corrupt (JSONDecodeError: ")
    assert reasons["sheet.png"] == ("a study's contact sheet", True)
    assert reasons["montage.png"] == ("a montage of dreams", True)
    assert not any(companion for name, (_, companion) in reasons.items() if name not in ("sheet.png", "montage.png"))
    assert sum(g["count"] for g in report.summary.values()) == 4


def test_dreams_of_classes_the_judge_does_not_know_are_refused(judge_host, study):
    # A fine-tuned checkpoint's class 2 is not the judge's class 2: scoring it there would be a silent lie.
    write_dream(study / "birds" / "wren.png", solid(0, 0, 1), 2, "wren")
    with pytest.raises(DreamError) as error:
        evaluate_folder(judge_host, study, ["colour-judge"])
    assert str(error.value) == (
        f"judge 'colour-judge' does not know the class of {str(study / 'birds' / 'wren.png')!r}: it targets 'wren' "
        "(class 2 of 'tiny-dreamer'), which is 'blue' to the judge. Judge with a model of the same classes "
        "(--judge NAME)."
    )


def test_a_judge_that_made_the_dreams_is_refused(judge_host, study):
    with pytest.raises(Exception, match="'tiny-dreamer' made some of these dreams"):
        evaluate_folder(judge_host, study, ["colour-judge", "tiny-dreamer"])


def test_default_judges_leave_out_the_dreaming_model(study):
    dreams, _ = collect_dreams(study)
    assert choose_judges(dreams, None) == list(DEFAULT_JUDGES)
    lite1 = [dataclasses.replace(d, model=DEFAULT_JUDGES[0]) for d in dreams]
    assert choose_judges(lite1, None) == list(DEFAULT_JUDGES[1:])
    both = [dataclasses.replace(d, model=name) for d, name in zip(dreams, DEFAULT_JUDGES)]
    with pytest.raises(Exception, match="name another with --judge"):
        choose_judges(both, None)


def test_a_folder_without_dreams_and_a_judge_with_too_few_classes_are_errors(judge_host, tmp_path):
    with pytest.raises(Exception, match=r"found no dreams to judge in '.*' \(0 other PNG\(s\)\)\.$"):
        evaluate_folder(judge_host, tmp_path, ["colour-judge"])
    write_dream(tmp_path / "far.png", solid(1, 0, 0), 7, "class 7")
    with pytest.raises(Exception, match="has 4 classes"):
        evaluate_folder(judge_host, tmp_path, ["colour-judge"])


def test_summarise_counts_ranks():
    items = [{"rank": 0, "p_target": 0.5}, {"rank": 4, "p_target": 0.1}, {"rank": 5, "p_target": 0.0}]
    assert summarise(items) == {
        "top1": pytest.approx(1 / 3),
        "top5": pytest.approx(2 / 3),
        "p_target": pytest.approx(0.2),
    }


@pytest.fixture
def judge_cli(monkeypatch, fresh_cli, judge_host):
    monkeypatch.setattr("dreamengine.cli.group._HOST", judge_host)


def test_cli_prints_a_table_per_group_and_judge(runner, judge_cli, study):
    from dreamengine.cli import cli

    (study / "holiday.png").write_bytes(b"not a png")
    result = runner.invoke(cli, ["evaluate", str(study), "--judge", "colour-judge", "--thumb", "8", "--per-image"])
    assert result.exit_code == 0, result.output
    assert "colours" in result.output and "texture" in result.output and "67%" in result.output
    said = " ".join(result.output.split())  # the title, with a long folder, wraps
    assert "as colour-judge sees them" in said and "p(target)" in result.output  # whole on 80 columns
    assert "thumb" in result.output and "not-blue.png" in result.output
    assert "skipped" in result.output and "holiday.png" in result.output and "Traceback" not in result.output


def test_cli_writes_json_with_groups_and_images(runner, judge_cli, study):
    from dreamengine.cli import cli

    result = runner.invoke(cli, ["evaluate", str(study), "-j", "colour-judge", "--thumb", "8", "--json", "-"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"folder", "judges", "views", "groups", "images", "skipped"}
    assert report["groups"]["texture"]["judges"]["colour-judge"]["thumb"]["top1"] == 0.0
    assert {image["path"] for image in report["images"]} == {
        "colours/red.png",
        "colours/green.png",
        "colours/not-blue.png",
        "texture/checks.png",
    }
    path = study / "scores.json"
    result = runner.invoke(cli, ["evaluate", str(study), "-j", "colour-judge", "--thumb", "8", "--json", str(path)])
    assert result.exit_code == 0 and json.loads(path.read_text())["groups"] == report["groups"]


def test_json_replaces_an_earlier_report_but_never_another_file_and_says_so_before_judging(
    runner, judge_cli, study, tmp_path, monkeypatch
):
    from dreamengine.cli import cli

    report = tmp_path / "scores.json"
    for _ in range(2):
        result = runner.invoke(cli, ["evaluate", str(study), "-j", "colour-judge", "--json", str(report)])
        assert result.exit_code == 0, result.output
    photo = tmp_path / "holiday.png"
    photo.write_bytes(b"a photo's bytes")
    monkeypatch.setattr("dreamengine.analysis.evaluation.evaluate_folder", lambda *a, **k: pytest.fail("judged"))
    for path, message in ((photo, "is there and is not an evaluate report"), (tmp_path, "is a folder")):
        result = runner.invoke(cli, ["evaluate", str(study), "-j", "colour-judge", "--json", str(path)])
        assert result.exit_code == 1 and message in result.output
    assert photo.read_bytes() == b"a photo's bytes"


def test_cli_refuses_the_dreaming_model_as_judge_in_one_line(runner, judge_cli, study):
    from dreamengine.cli import cli

    result = runner.invoke(cli, ["evaluate", str(study), "--judge", "tiny-dreamer"])
    assert result.exit_code != 0 and "made some of these dreams" in result.output
    assert "Traceback" not in result.output


def test_a_judge_that_cannot_be_loaded_leaves_no_empty_bar_above_its_error(runner, judge_cli, study):
    from dreamengine.cli import cli

    result = runner.invoke(cli, ["evaluate", str(study), "--judge", "colour-judge", "--judge", "nosuchnet"])
    assert result.exit_code == 1 and "unknown model 'nosuchnet'" in result.output
    assert "judging with colour-judge" in result.output and "judging with nosuchnet" not in result.output


def test_a_timm_judge_is_loaded_with_its_pretrained_weights_or_refused_in_one_line(
    runner, judge_cli, study, monkeypatch
):
    """A judge with random weights judges nothing (it used to be loaded so, with Python's raw warning)."""
    from dreamengine.cli import cli

    asked = []

    def offline(name, pretrained=False, **kwargs):
        asked.append(pretrained)
        raise ConnectionError("no network")

    monkeypatch.setattr("timm.create_model", offline)
    monkeypatch.setattr("dreamengine_builtins.models._hub_reachable", lambda: True)  # it answers; the download fails
    result = runner.invoke(cli, ["evaluate", str(study), "--judge", "resnet10t"])
    assert asked == [True] and result.exit_code == 1 and "Traceback" not in result.output
    assert (
        "cannot judge with 'resnet10t': a judge needs trained weights, and timm's could not be downloaded "
        "(ConnectionError; check the network). Judge with a registered model instead:"
    ) in " ".join(result.output.split())
    result = runner.invoke(cli, ["evaluate", str(study), "--judge", "botnet50ts_256"])
    assert "a judge needs trained weights, and timm has none for it." in " ".join(result.output.split())


def normed_judge() -> DreamModel:
    """A judge with a convolution and a batch norm whose statistics are far from the identity."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(8, 4),
        )
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.2, 3)
    return DreamModel(
        net, name="normed-judge", input_size=(SIZE, SIZE), class_names=["red", "green", "blue", "texture"]
    )


def test_a_judge_runs_folded_and_scores_as_the_network_as_built(study):
    dreams, _ = collect_dreams(study)
    judge = normed_judge()
    folded = score_dreams(judge, dreams)
    assert isinstance(judge.layer("1"), NormRemainder)  # the norm was folded into the convolution
    with judge.unfolded():
        as_built = score_dreams(judge, dreams)
    for view in as_built:
        assert [item["p_target"] for item in folded[view]] == pytest.approx(
            [item["p_target"] for item in as_built[view]], abs=1e-5
        )


def test_progress_is_reported_per_judge_over_every_dream_and_view(judge_host, study):
    seen = []
    evaluate_folder(judge_host, study, ["colour-judge"], thumb=8, on_scored=lambda *args: seen.append(args))
    assert seen[0] == ("colour-judge", 0, 8) and seen[-1] == ("colour-judge", 8, 8)  # 4 dreams x 2 views
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)


def test_each_dream_and_group_is_measured_for_colour_contrast_and_sharpness(judge_host, study):
    report = evaluate_folder(judge_host, study, ["colour-judge"], thumb=0)
    measures = {image["path"]: image["measures"] for image in report.images}
    red = 0.3 * math.hypot(255, 127.5)  # Hasler & Süsstrunk's M of pure red: its mean opponent colours only
    assert measures["colours/red.png"] == pytest.approx({"colourfulness": red, "contrast": 0, "sharpness": 0}, abs=1e-4)
    assert measures["texture/checks.png"]["contrast"] == pytest.approx(0.5)
    assert measures["texture/checks.png"]["colourfulness"] == 0 and measures["texture/checks.png"]["sharpness"] > 0.1
    colours = report.summary["colours"]["measures"]["colourfulness"]
    values = sorted(measures[f"colours/{n}.png"]["colourfulness"] for n in ("red", "green", "not-blue"))
    assert colours == pytest.approx({"median": values[1], "mean": sum(values) / 3, "min": values[0], "max": values[2]})
    assert set(report.summary["texture"]["measures"]) == {"colourfulness", "contrast", "sharpness"}


def test_measures_are_summarised_by_median_mean_and_extremes():
    items = [{"contrast": 0.1}, {"contrast": 0.2}, {"contrast": 0.6}]
    assert summarise_measures(items) == {
        "contrast": pytest.approx({"median": 0.2, "mean": 0.3, "min": 0.1, "max": 0.6})
    }
    assert summarise_measures([]) == {}


def test_cli_prints_how_each_group_and_dream_looks(runner, judge_cli, study):
    from dreamengine.cli import cli

    result = runner.invoke(cli, ["evaluate", str(study), "--judge", "colour-judge", "--per-image"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "median colourfulness, RMS contrast, sharpness" in said
    assert "Per dream: colourfulness, RMS contrast, sharpness" in said
    for heading in ("colourfulness", "contrast", "sharpness"):
        assert f"┃ {heading}" in result.output or f"{heading} ┃" in result.output
    assert re.search(r"│ texture\s+│\s+1 │\s+0\.0 │\s+0\.500 │", result.output)  # the checkerboard's group
    assert re.search(r"│ colours/red\.png\s+│ red\s+│\s+85\.5 │\s+0\.000 │\s+0\.0000 │", result.output)
    short = runner.invoke(cli, ["evaluate", str(study), "--judge", "colour-judge"])
    assert "median colourfulness" in " ".join(short.output.split()) and "Per dream" not in short.output


def test_cli_json_holds_the_measures_of_each_dream_and_group(runner, judge_cli, study):
    from dreamengine.cli import cli

    result = runner.invoke(cli, ["evaluate", str(study), "-j", "colour-judge", "--json", "-"])
    report = json.loads(result.stdout)
    for image in report["images"]:
        assert set(image["measures"]) == {"colourfulness", "contrast", "sharpness"}
    texture = report["groups"]["texture"]["measures"]
    assert texture["contrast"] == {"median": 0.5, "mean": 0.5, "min": 0.5, "max": 0.5}
    assert set(texture["sharpness"]) == {"median", "mean", "min", "max"}
