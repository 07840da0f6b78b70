"""The atlas never touches what it did not write: a user's folder is refused, --restart deletes only the atlas's
own files, the images are never written into, a refusal writes nothing, and a damaged file is made again."""

from __future__ import annotations

import hashlib
import json

import pytest
from PIL import Image

from dreamengine.cli import cli
from dreamengine.run.owned import LIST_NAME

pytestmark = pytest.mark.usefixtures("builtins_only_cli", "one_thread")

TINY = ["--model", "resnet10t", "--size", "32", "--steps", "2", "--layer", "layer1", "--units", "2", "--batch", "2"]


def atlas(runner, *args):
    result = runner.invoke(cli, ["atlas", *TINY, *args])
    return result.exit_code, " ".join(result.output.split())


def snapshot(folder):
    """Every file under ``folder`` with its bytes, and every folder."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


def user_files(folder, *names):
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(f"the user's own {name}".encode())


def images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for index, colour in enumerate(("red", "green", "blue")):
        Image.new("RGB", (40, 40), colour).save(folder / f"{index}.png")
    return folder


def test_a_folder_of_the_users_own_files_is_refused_before_a_byte_is_written(runner, tmp_path):
    out = tmp_path / "mine"
    user_files(out, "index.html", "layers/layer1.html", "classes/index.html", "notes.txt")
    before = snapshot(tmp_path)
    code, text = atlas(runner, "-o", str(out))
    assert code == 1 and f"'{out}' is not empty and was not written by dreamengine atlas" in text
    assert "(it holds classes, index.html, layers and 1 more)" in text
    assert snapshot(tmp_path) == before


def test_restart_deletes_only_what_the_atlas_wrote(runner, tmp_path):
    out = tmp_path / "atlas"
    assert atlas(runner, "-o", str(out))[0] == 0
    user_files(out, "units/mine.txt", "thumbs/keep.jpg", "units/layer1/notes.md", "mine/own.txt")
    code, text = atlas(runner, "-o", str(out), "--lr", "0.1")
    assert code == 1 and "--restart" in text
    code, text = atlas(runner, "-o", str(out), "--lr", "0.1", "--restart")
    assert code == 0, text
    for name in ("units/mine.txt", "thumbs/keep.jpg", "units/layer1/notes.md", "mine/own.txt"):
        assert (out / name).read_bytes() == f"the user's own {name}".encode()
    assert json.loads((out / "atlas.json").read_text())["settings"]["lr"] == 0.1
    assert json.loads((out / "units/layer1/0.json").read_text())["unit"] == 0


def test_a_file_the_user_put_where_the_atlas_would_write_is_kept(runner, tmp_path):
    out = tmp_path / "atlas"
    assert atlas(runner, "-o", str(out))[0] == 0
    user_files(out, "layers/layer2.html")  # the page of a layer the atlas grows by next
    code, text = atlas(runner, "-o", str(out), "--layer", "layer2")
    assert code == 1 and f"'{out / 'layers/layer2.html'}' is not a file dreamengine atlas wrote" in text
    assert (out / "layers/layer2.html").read_bytes() == b"the user's own layers/layer2.html"


@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_an_atlas_among_its_images_is_refused_before_anything_is_written(runner, tmp_path, where):
    photos = images(tmp_path / "photos")
    user_files(photos, "units/photo.png", "thumbs/photo.jpg")
    out = {"same": photos, "inside": photos / "atlas", "around": tmp_path}[where]
    before = snapshot(tmp_path)
    for restart in ([], ["--restart"]):
        code, text = atlas(runner, "-o", str(out), "--images", str(photos), *restart)
        assert code == 1 and "--images" in text and "nothing was written" in text
        assert snapshot(tmp_path) == before


@pytest.mark.parametrize("bad", ["missing", "empty", "junk"])
def test_a_bad_image_folder_is_refused_before_anything_is_written(runner, tmp_path, bad):
    folder = tmp_path / bad
    if bad != "missing":
        folder.mkdir()
    if bad == "junk":
        (folder / "notes.txt").write_text("not a picture")
    before = snapshot(tmp_path)
    code, text = atlas(runner, "-o", str(tmp_path / "atlas"), "--images", str(folder))
    assert code == 1 and str(folder) in text
    assert snapshot(tmp_path) == before


def test_a_damaged_thumbnail_is_made_again_on_resume(runner, tmp_path):
    out = tmp_path / "atlas"
    assert atlas(runner, "-o", str(out))[0] == 0
    thumb = out / "thumbs/layer1/1.jpg"
    whole = thumb.read_bytes()
    thumb.write_bytes(whole[: len(whole) // 2])
    code, text = atlas(runner, "-o", str(out))
    assert code == 0 and "1 dreamt now, 1 done before" in text
    Image.open(thumb).load()  # whole again (dreamt alone, not in its batch of two: not byte for byte the same)
    assert len(thumb.read_bytes()) > len(whole) // 2


def test_the_folder_lists_what_the_atlas_wrote(runner, tmp_path):
    out = tmp_path / "atlas"
    assert atlas(runner, "-o", str(out))[0] == 0
    listed = (out / LIST_NAME).read_text().splitlines()
    assert listed[0] == "# dreamengine atlas"
    on_disk = {key + ("/" if value is None else "") for key, value in snapshot(out).items()} - {LIST_NAME}
    assert {line.partition("\t")[0] for line in listed[1:]} == on_disk
    digests = dict(line.split("\t") for line in listed[1:] if "\t" in line)
    assert digests["index.html"] == hashlib.sha256((out / "index.html").read_bytes()).hexdigest()
