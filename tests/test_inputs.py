"""The files a run reads (shipped to Ray workers), and the same run reading them from elsewhere."""

from __future__ import annotations

import pytest
from PIL import Image

from dreamengine.run.config import RunConfig
from dreamengine.run.inputs import files_read, reading_from


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("cat.png", "coffee.png", "brick.png", "sky.png", "cat.png.png"):
        Image.new("RGB", (8, 8)).save(name)
    (tmp_path / "dir.pt").write_bytes(b"a vector")
    return tmp_path


def test_every_path_option_that_names_a_file_is_found_named_or_by_position(host, files):
    config = RunConfig().updated(
        {
            "init": "photo:cat.png:blur=2",
            "reg": ["clamp", "+mask:path=sky.png"],
            "objective": "guide:blocks.4:path=coffee.png + 0.5*style:blocks.3:brick.png - 0.01*tv; "
            "direction:blocks.4:path=dir.pt; layer:cat.png.png; nosuch:path=cat.png.png",
        },
        "test",
    )
    # a layer's name is no file, whatever is here; an unknown component is the run's own error
    assert files_read(host.registry, config) == ["cat.png", "sky.png", "coffee.png", "brick.png", "dir.pt"]
    assert files_read(host.registry, RunConfig().updated({"init": "photo:missing.png"}, "test")) == []
    set_by_option = RunConfig().updated({"init": "photo", "options": {"photo": {"path": "cat.png.png"}}}, "test")
    assert files_read(host.registry, set_by_option) == ["cat.png.png"]


def test_reading_from_rewrites_each_file_and_nothing_else():
    config = RunConfig().updated(
        {
            "init": "photo:cat.png:blur=2",
            "reg": ["clamp", "mask:path=cat.png.png"],
            "objective": "guide:blocks.4:path=cat.png + 0.5*style:blocks.3:cat.png; layer:cat",
            "options": {"guide": {"path": "cat.png"}, "blur": {"sigma": 0.5}},
        },
        "test",
    )
    moved = reading_from(config, {"cat.png": "/copies/1.png", "cat.png.png": "/copies/2.png"})
    assert moved.init == "photo:/copies/1.png:blur=2"
    assert moved.reg == ["clamp", "mask:path=/copies/2.png"]  # the longer name is not taken for the shorter
    assert moved.objective == "guide:blocks.4:path=/copies/1.png + 0.5*style:blocks.3:/copies/1.png; layer:cat"
    assert moved.options == {"guide": {"path": "/copies/1.png"}, "blur": {"sigma": 0.5}}
    assert reading_from(config, {}) is config
