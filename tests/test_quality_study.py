"""examples/quality_study.py: its class sets resolve on the default model, and the broad set is dreamed by group."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamengine.engine.classes import display_name, resolve_class
from dreamengine_builtins.models import DEFAULT_MODEL, efficientnet_lite

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "quality_study.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("quality_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_class_of_the_broad_set_is_the_default_models_class_of_that_index_and_name(study):
    names = efficientnet_lite(DEFAULT_MODEL).class_names
    for group, classes in study.BROAD.items():
        for index, name in classes:
            assert resolve_class(name, names, len(names)) == index, (group, name)
            assert display_name(names, index) == name, (group, index)


def test_the_broad_set_spans_imagenets_kinds_with_the_studys_birds_as_one_group(study):
    indices = [index for classes in study.BROAD.values() for index, _ in classes]
    assert 45 <= len(indices) <= 60 and len(set(indices)) == len(indices)
    assert len(study.BROAD) >= 9 and all(len(classes) >= 4 for classes in study.BROAD.values())
    assert study.BIRDS == [
        "flamingo", "goldfinch", "indigo bunting", "robin", "magpie", "bald eagle",
        "great grey owl", "peacock", "macaw", "toucan", "pelican", "king penguin",
    ]  # fmt: skip
    assert study.CLASS_SETS["birds"] == {"": study.BIRDS}  # the documented layout: no sub-folder


def test_the_broad_set_is_dreamed_into_one_sub_folder_per_group(study, tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(study, "load_plugins", lambda: None)
    monkeypatch.setattr(study, "dream", lambda host, config: made.append((config.output, config.classes)))
    groups = {"dogs": ["pug", "dalmatian", "golden retriever"], "food": ["pizza"]}
    study.dream_all(tmp_path, ["default"], groups, "cpu", 2, [0])
    assert made == [
        (str(tmp_path / "default" / "dogs"), ["pug", "dalmatian"]),
        (str(tmp_path / "default" / "dogs"), ["golden retriever"]),
        (str(tmp_path / "default" / "food"), ["pizza"]),
    ]
    made.clear()
    study.dream_all(tmp_path, ["default"], study.CLASS_SETS["birds"], "cpu", 12, [0])
    assert made == [(str(tmp_path / "default"), study.BIRDS)]


def test_the_script_still_explains_itself():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--classes {birds,broad,screen}" in result.stdout


def test_the_sheet_finds_each_groups_dreams_in_its_sub_folder(study, tmp_path):
    groups = {"dogs": ["Siberian husky"], "food": ["pizza", "banana"]}
    (tmp_path / "default" / "food").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(tmp_path / "default" / "food" / "banana-seed0.png")
    study.sheet(tmp_path, tmp_path / "sheet.png", ["default"], groups, tile=10)
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB")).astype(int)
    tiles = [sheet[28:38, 110 + 10 * column : 120 + 10 * column] for column in range(3)]
    assert [bool((tile == (255, 0, 0)).all()) for tile in tiles] == [False, False, True]


def test_the_sheet_has_a_row_per_setting_and_seed_and_wraps_the_classes_into_bands(study, tmp_path):
    groups = {"": ["pug", "pizza", "banana"]}
    for seed, colour in ((0, "red"), (1, "blue")):
        (tmp_path / "new").mkdir(exist_ok=True)
        Image.new("RGB", (8, 8), colour).save(tmp_path / "new" / f"banana-seed{seed}.png")
    study.sheet(tmp_path, tmp_path / "sheet.png", ["old", "new"], groups, seeds=[0, 1], tile=10, across=2)
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB")).astype(int)
    band = 28 + 4 * 10  # a header, then the rows old/0, old/1, new/0, new/1
    assert sheet.shape == (2 * band, 110 + 2 * 10, 3)
    banana = [sheet[band + 28 + 10 * row : band + 38 + 10 * row, 110:120] for row in range(4)]  # band 2, column 1
    assert [tuple(tile[5, 5]) for tile in banana] == [(255, 255, 255), (255, 255, 255), (255, 0, 0), (0, 0, 255)]


def test_every_setting_is_a_run_configuration_and_its_variants_change_only_what_they_name(study, tmp_path):
    configs = {name: study.config_for(name, ["pug"], tmp_path, "cpu") for name in study.SETTINGS}
    base = configs["fft-octaves-300"]
    assert (base.lr, base.steps, base.strategy) == (0.05, 300, ["octaves:count=3:scale=1.4"])
    every4 = ["clamp", "blur:sigma=0.5:every=4", "flip", "jitter:pixels=8", "scale", "rotate"]
    assert configs["lr15-blur4"].reg == every4
    assert configs["lr15-blur4"].lr == 0.15 and configs["lr15-blur4"].strategy == base.strategy
    assert configs["decay75"].param == "fft:decay=0.75" and configs["decay75"].reg == base.reg
    # the settings measured before the octaves existed run without them, whatever today's default strategy
    assert all(configs[name].strategy == ["none"] for name in ("report", "pixel", "fft", "fft-transforms"))


def test_the_screen_is_ten_classes_of_the_broad_set(study):
    broad = {name for classes in study.BROAD.values() for _, name in classes}
    assert len(study.SCREEN) == 10 and set(study.SCREEN) <= broad
    assert study.CLASS_SETS["screen"] == {"": study.SCREEN}


def test_the_group_table_gives_each_settings_judges_and_median_measures_per_group_and_over_all(study, tmp_path, capsys):
    def image(path, ranks, colourfulness):
        judges = {judge: {"thumb": {"rank": rank}} for judge, rank in zip(("lite1", "lite2"), ranks)}
        measures = {"colourfulness": colourfulness, "contrast": 0.2, "sharpness": 0.1}
        return {"path": path, "judges": judges, "measures": measures}

    images = [
        image("old/dogs/pug-seed0.png", (0, 3), 20.0),
        image("old/dogs/pug-seed1.png", (1, 0), 30.0),
        image("old/food/pizza-seed0.png", (0, 0), 40.0),
        image("new/dogs/pug-seed0.png", (0, 0), 50.0),
    ]
    (tmp_path / "scores.json").write_text(json.dumps({"images": images}))
    study.group_table(tmp_path, ["old", "new"])
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[0] for row in rows] == ["| dogs", "| food", "| all"]
    assert rows[0][1:5] == ["50% / 50%", "25.0", "0.200", "0.100"] and rows[0][5] == "100% / 100%"
    assert rows[1][1:3] == ["100% / 100%", "40.0"] and rows[1][5:] == ["", "", "", " |"]
    assert rows[2][1:3] == ["67% / 67%", "30.0"]


def test_the_table_ranks_the_settings_and_gives_their_median_looks(study, tmp_path, capsys):
    def group(p, colourfulness):
        views = {view: {"top1": 0.5, "top5": 1.0, "p_target": p} for view in ("thumb", "full")}
        measures = {key: {"median": value} for (key, _), value in zip(study.LOOKS, (colourfulness, 0.25, 0.0625))}
        return {"count": 2, "judges": {"lite1": views}, "measures": measures}

    scores = {"groups": {"weak": group(0.1, 20.0), "strong": group(0.9, 50.0)}}
    (tmp_path / "scores.json").write_text(json.dumps(scores))
    study.table(tmp_path)
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == ["| strong", "| weak"]
    assert rows[0].endswith("| 50.0 | 0.250 | 0.062 |  |")


def test_a_dream_laid_on_gray_through_its_map_is_judged_as_the_dream_it_shows(
    study, tmp_path, one_thread, resnet10t_quiet
):
    from dreamengine.analysis.evaluation import collect_dreams
    from dreamengine.plugins import load_plugins
    from dreamengine.run.execute import dream
    from dreamengine.run.imaging import read_manifest

    assert study.ON_GRAY == {"maco-attr-on-gray": "maco-attr", "maco-crops-attr-on-gray": "maco-crops-attr"}
    config = study.config_for("maco-attr", ["pug"], tmp_path / "maco-attr" / "dogs", "cpu")
    assert config.attribution is True and config.param == "maco"
    small = config.updated({"model": "resnet10t", "size": 32, "steps": 2, "strategy": ["none"]}, "test")
    dream(load_plugins(), small)
    study.composite(tmp_path, ["maco-attr-on-gray"])
    laid = tmp_path / "maco-attr-on-gray" / "dogs" / "pug-seed0.png"
    original = Image.open(tmp_path / "maco-attr" / "dogs" / "pug-seed0.png").convert("RGB")
    alpha = np.asarray(Image.open(tmp_path / "maco-attr" / "dogs" / "pug-seed0-attribution.png").getchannel("A"))
    pixels, dreamt = np.asarray(Image.open(laid).convert("RGB"), float), np.asarray(original, float)
    expected = dreamt * alpha[..., None] / 255 + 128 * (1 - alpha[..., None] / 255)
    assert alpha.min() < 255 and np.abs(pixels - expected).max() <= 1  # faded toward gray where the map is low
    assert read_manifest(laid)["target"]["name"] == "pug" and "attribution" not in read_manifest(laid)
    dreams, _ = collect_dreams(tmp_path / "maco-attr-on-gray")
    assert [d.path.name for d in dreams] == ["pug-seed0.png"]
    with pytest.raises(SystemExit, match="composite takes a setting named in ON_GRAY"):
        study.composite(tmp_path, ["maco"])


@pytest.mark.parametrize(("preset", "setting"), [("maco", "maco-attr"), ("sharp", "decay125-blur8")])
def test_the_named_presets_are_the_settings_the_study_measured(study, tmp_path, preset, setting):
    from dataclasses import asdict

    from dreamengine.plugins import load_plugins
    from dreamengine.run.settings import resolve_settings

    output = {"classes": ["pug"], "output": str(tmp_path), "device": "cpu"}
    named = resolve_settings(load_plugins(), preset=preset, options=output)
    measured = study.config_for(setting, ["pug"], tmp_path, "cpu")
    assert {**asdict(named), "preset": None} == asdict(measured)


def test_an_anchor_writes_a_dream_that_evaluate_reads_with_its_target_and_leaves_no_file_behind(
    study, tmp_path, monkeypatch
):
    pytest.importorskip("horama")
    from dreamengine.analysis.evaluation import collect_dreams
    from dreamengine.run.imaging import read_manifest
    from dreamengine.testing import tiny_model

    monkeypatch.setattr(study, "load_model", lambda host, config: tiny_model())
    monkeypatch.setattr(study, "ANCHOR_CANVAS", 32)
    monkeypatch.chdir(tmp_path)
    for name in study.ANCHORS:
        study.dream_anchor(None, name, ["class2"], tmp_path / "out" / name, "cpu", 0, steps=2)
        manifest = read_manifest(tmp_path / "out" / name / "class2-seed0.png")
        assert manifest["target"] == {"index": 2, "name": "class2", "item": 0}
        assert manifest["anchor"]["name"] == name and manifest["config"]["steps"] == 2
    dreams, skipped = collect_dreams(tmp_path / "out")
    assert [(d.group, d.target, d.model, tuple(d.image.shape)) for d in dreams] == [
        ("horama-fourier", 2, "tiny", (3, 16, 16)),
        ("horama-maco", 2, "tiny", (3, 16, 16)),
    ] and not skipped
    assert Path.cwd() == tmp_path and sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no spectrum left


def test_an_anchor_without_its_package_says_how_to_install_it(study, tmp_path, monkeypatch):
    from dreamengine.errors import DreamError

    monkeypatch.setitem(sys.modules, "horama", None)  # as if not installed
    monkeypatch.setattr(study, "load_model", lambda host, config: pytest.fail("the model is loaded first"))
    with pytest.raises(DreamError, match="pip install horama"):
        study.dream_anchor(None, "horama-maco", ["pug"], tmp_path, "cpu", 0)
    assert not any(tmp_path.iterdir())
