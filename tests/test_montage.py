"""`dreamengine montage`: dreams in one labelled grid, each labelled with what it dreamed."""

from __future__ import annotations

import pytest
from PIL import Image

from dreamengine.analysis.montage import label, left_out, montage
from dreamengine.cli import cli
from dreamengine.run.imaging import read_manifest

pytestmark = pytest.mark.usefixtures("builtins_only_cli")


@pytest.fixture
def dreams(runner, tmp_path):
    """Three 32x32 dreams of objectives side by side, with their side-by-side pictures."""
    result = runner.invoke(
        cli,
        [
            "run",
            "--model",
            "resnet10t",
            "--size",
            "32",
            "--steps",
            "1",
            "--strategy",
            "none",
            "--objective",
            "layer:layer2:0; layer:layer2:1; logit",
            "-c",
            "toucan",
            "--side-by-side",
            "-o",
            str(tmp_path / "dreams"),
        ],
    )
    assert result.exit_code == 0, result.output
    return tmp_path / "dreams"


def test_a_montage_puts_each_dream_in_its_cell_over_what_it_dreamed(runner, dreams, tmp_path):
    files = sorted(dreams.glob("*.png"))
    out = tmp_path / "montage.png"
    result = runner.invoke(cli, ["montage", *map(str, files), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("a side-by-side picture") == 3
    sheet = Image.open(out).convert("RGB")
    assert sheet.size == (2 * (96 + 6) + 6, 2 * (96 + 16 + 6) + 6)  # 2 x 2 cells, 32 pixels enlarged 3 times
    first = Image.open(dreams / "layer-layer2-0-seed0.png").convert("RGB")
    assert sheet.getpixel((6, 6)) == sheet.getpixel((8, 8)) == first.getpixel((0, 0))  # pixel for pixel
    assert sheet.getpixel((6 + 96 + 6 + 3 * 5, 6)) == Image.open(dreams / "layer-layer2-1-seed0.png").getpixel((5, 0))
    stored = read_manifest(out)["montage"]
    assert stored["labels"] == ["layer:layer2:0", "layer:layer2:1", "toucan (logit)"]
    assert [p.rsplit("/", 1)[-1] for p in stored["pictures"]] == [
        "layer-layer2-0-seed0.png",
        "layer-layer2-1-seed0.png",
        "toucan-seed0.png",
    ]
    again = runner.invoke(cli, ["montage", str(dreams), str(out), "-o", str(out), "--columns", "3"])  # a folder
    assert again.exit_code == 0 and "a montage" in again.output  # the last montage is left out, and replaced
    assert Image.open(out).size == (3 * (96 + 6) + 6, 96 + 16 + 6 + 6)


def test_a_montage_never_replaces_another_file_and_refuses_bad_columns(runner, dreams, tmp_path):
    photo = tmp_path / "holiday.png"
    Image.new("RGB", (8, 8), "red").save(photo)
    result = runner.invoke(cli, ["montage", str(dreams / "toucan-seed0.png"), "-o", str(photo)])
    assert result.exit_code == 1 and "is there and is not a montage" in result.output
    assert Image.open(photo).getpixel((0, 0)) == (255, 0, 0)
    result = runner.invoke(
        cli, ["montage", str(dreams / "toucan-seed0.png"), "--columns", "0", "-o", str(tmp_path / "m.png")]
    )
    assert result.exit_code == 1 and "--columns must be at least 1, got 0." in result.output
    (tmp_path / "empty").mkdir()
    result = runner.invoke(cli, ["montage", str(tmp_path / "empty"), "-o", str(tmp_path / "m.png")])
    assert result.exit_code == 1 and "holds no PNG files" in result.output
    result = runner.invoke(cli, ["montage", str(tmp_path / "nosuch"), "-o", str(tmp_path / "m.png")])
    assert result.exit_code == 2 and "Path '" in result.output and "nosuch' does not exist" in result.output


def test_other_pictures_and_labels_that_repeat_are_labelled_with_their_files_names(dreams, tmp_path):
    copy = tmp_path / "toucan-again.png"
    copy.write_bytes((dreams / "toucan-seed0.png").read_bytes())
    twins = [(path, Image.open(path)) for path in (dreams / "toucan-seed0.png", copy)]
    assert [label(*twin) for twin in twins] == ["toucan (logit)"] * 2
    assert montage(twins)[1] == ["toucan-seed0", "toucan-again"]
    pictures = []
    for name in ("a", "b"):
        Image.new("RGB", (10, 20), "blue").save(tmp_path / f"{name}.png")
        pictures.append((tmp_path / f"{name}.png", Image.open(tmp_path / f"{name}.png")))
    assert label(*pictures[0]) == "a" and left_out(*pictures[0]) is None
    sheet, labels = montage(pictures)
    assert labels == ["a", "b"] and sheet.size == (2 * (100 + 6) + 6, 200 + 16 + 6 + 6)  # 10x20 enlarged 10 times
    assert montage(pictures, columns=5)[0].size == sheet.size  # no empty columns


def test_pictures_are_ordered_by_name_with_numbers_as_numbers_unless_kept_as_given(runner, tmp_path):
    names = ["c10", "c2", "c1"]
    for name in names:
        Image.new("RGB", (8, 8), "green").save(tmp_path / f"{name}.png")
    files = [str(tmp_path / f"{name}.png") for name in names]
    runner.invoke(cli, ["montage", *files, "-o", str(tmp_path / "m.png")])
    assert read_manifest(tmp_path / "m.png")["montage"]["labels"] == ["c1", "c2", "c10"]
    runner.invoke(cli, ["montage", *files, "--as-given", "-o", str(tmp_path / "m.png")])
    assert read_manifest(tmp_path / "m.png")["montage"]["labels"] == names
