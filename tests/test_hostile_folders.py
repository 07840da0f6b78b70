"""Hostile folders, generated: `atlas`, `study` and `run -o` pointed at folders full of a user's files, at their own
inputs, through links, and stopped by Ctrl-C at any write, then run again (with or without --restart).

After each case every file of the user's is byte for byte as it was, nothing is written outside the output, and
the output holds what a clean run makes (the dreams, records and pages, byte for byte) beside the user's files.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from dreamengine.cli import cli
from dreamengine.run import owned
from dreamengine.run.owned import LIST_NAME

pytestmark = pytest.mark.usefixtures("one_thread", "builtins_only_cli")

FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ATLAS = ["atlas", "--model", "resnet10t", "--size", "32", "--steps", "2", "--layer", "layer1", "--layer", "logits"]
ATLAS += ["--units", "2", "--batch", "1"]  # a unit alone in its batch: the same bytes, however a run was cut
RUN = ["run", "--model", "resnet10t", "--size", "32", "--steps", "2", "--side-by-side", "-c", "0"]

#: Names a user's files take: the commands' own names among them, so that every collision is tried.
NAMES = st.sampled_from(
    [
        "index.html",
        "atlas.json",
        "examples.json",
        "units",
        "thumbs",
        "layers",
        "classes",
        "assets",
        "cells",
        "sheets",
        "layer1",
        "0.png",
        "0.json",
        "goldfish-seed0.png",
        "goldfish-seed0-side.png",
        "mine.txt",
        "photo.jpg",
    ]
)
#: A user's tree: relative paths (one to three names deep) and their bytes.
TREES = st.dictionaries(st.lists(NAMES, min_size=1, max_size=3).map("/".join), st.binary(max_size=16), max_size=6)


def lay_out(root: Path, tree: dict[str, bytes]) -> None:
    """Write ``tree`` under ``root``; a path that a shorter one made a file (or the reverse) is left out."""
    for relative, data in sorted(tree.items()):
        path = root / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_dir():
                path.write_bytes(data)
        except (FileExistsError, NotADirectoryError):
            continue


def snapshot(root: Path) -> dict[str, bytes | str | None]:
    """Every entry under ``root``: a file's bytes, a link's target, ``None`` for a folder (links not followed)."""
    found: dict[str, bytes | str | None] = {}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            found[relative] = os.readlink(path) if path.is_symlink() else None if path.is_dir() else path.read_bytes()
    return found


def user_entries_kept(before: dict, after: dict) -> None:
    """Every file and link of the user's is there, as it was."""
    for relative, content in before.items():
        if content is not None:
            assert after.get(relative) == content, relative


@contextmanager
def ctrl_c_at_write(number: int | None, after: bool):
    """Ctrl-C at the ``number``-th file an owned folder writes (before the write, or just after it lands)."""
    if number is None:
        yield
        return
    real, count = owned.write_atomic, [0]

    def write(path, body, **options):
        count[0] += 1
        if count[0] == number and not after:
            raise KeyboardInterrupt
        done = real(path, body, **options)
        if count[0] == number:
            raise KeyboardInterrupt
        return done

    owned.write_atomic = write
    try:
        yield
    finally:
        owned.write_atomic = real


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output and not isinstance(result.exception, AssertionError), result.output
    assert result.exit_code in (0, 1, 130), (result.exit_code, result.output, result.exception)
    return result


def made_by(folder: Path) -> dict[str, bytes]:
    """What a command wrote in ``folder``: its files' bytes, the list of written files as the paths it names."""
    files = {relative: data for relative, data in snapshot(folder).items() if isinstance(data, bytes)}
    files[LIST_NAME] = b"\n".join(sorted({line.split(b"\t")[0] for line in files[LIST_NAME].splitlines()}))
    return files


@pytest.fixture(scope="module")
def clean_atlas(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "atlas"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")
        patch.setattr("dreamengine.cli.group._HOST", None)
        assert CliRunner().invoke(cli, [*ATLAS, "-o", str(out)]).exit_code == 0
    return made_by(out)


def _in(name: str, relative: str) -> bool:
    return relative == name or relative.startswith(f"{name}/")


@FEW
@given(around=TREES, inside=TREES, stop=st.one_of(st.none(), st.integers(1, 40)), after=st.booleans())
@example(around={"mine.txt": b"x", "units/0.png": b"y"}, inside={}, stop=3, after=True)
@example(around={}, inside={}, stop=12, after=False)
@example(around={}, inside={}, stop=None, after=False)
def test_an_atlas_among_a_users_files_touches_none_and_resumes_to_a_clean_runs_folder(
    tmp_path_factory, clean_atlas, around, inside, stop, after
):
    world = tmp_path_factory.mktemp("world")
    lay_out(world, around)
    out = world / "atlas"
    lay_out(out, inside)
    before = snapshot(world)
    with ctrl_c_at_write(stop, after):
        first = invoke(*ATLAS, "-o", str(out))
    if any(_in("atlas", k) for k in before):
        assert first.exit_code == 1 and snapshot(world) == before  # the user's folder: refused, nothing written
        return
    again = invoke(*ATLAS, "-o", str(out), *(["--restart"] if stop and stop % 2 else []))
    assert again.exit_code == 0, again.output
    after_runs = snapshot(world)
    user_entries_kept(before, after_runs)
    outside = {k: v for k, v in after_runs.items() if not _in("atlas", k)}
    assert outside == {k: v for k, v in before.items() if not _in("atlas", k)}
    assert first.exit_code == (0 if stop is None else 130) or stop > 20  # a late stop may come after the last write
    made = made_by(out)
    assert made == clean_atlas  # the same bytes as a clean run's, the list of written files the same paths


@FEW
@given(tree=TREES, where=st.sampled_from(["same", "inside", "around"]), restart=st.booleans())
def test_an_atlas_among_its_own_images_writes_nothing(tmp_path_factory, tree, where, restart):
    world = tmp_path_factory.mktemp("world")
    photos = world / "photos"
    lay_out(photos, tree)
    photos.mkdir(exist_ok=True)
    Image.new("RGB", (40, 40), "red").save(photos / "red.png")
    out = {"same": photos, "inside": photos / "atlas", "around": world}[where]
    before = snapshot(world)
    result = invoke(*ATLAS, "-o", str(out), "--images", str(photos), *(["--restart"] * restart))
    assert result.exit_code == 1 and "--images" in result.output
    assert snapshot(world) == before


@FEW
@given(link=st.sampled_from(["to-empty", "to-file", "dangling", "inner-link"]))
def test_an_atlas_never_writes_through_a_link_out_of_its_folder(tmp_path_factory, link):
    world = tmp_path_factory.mktemp("world")
    (world / "elsewhere").mkdir()
    (world / "elsewhere" / "keep.txt").write_text("mine")
    out = world / "atlas"
    if link == "to-empty":
        (world / "empty").mkdir()
        out.symlink_to(world / "empty")
    elif link == "to-file":
        out.symlink_to(world / "elsewhere" / "keep.txt")
    elif link == "dangling":
        out.symlink_to(world / "nothing")
    before = snapshot(world)
    if link == "inner-link":  # an atlas made, then one of its folders made a link out of it
        assert invoke(*ATLAS, "-o", str(out)).exit_code == 0
        for path in (out / "thumbs" / "layer1").iterdir():
            path.unlink()
        (out / "thumbs" / "layer1").rmdir()
        (out / "thumbs" / "layer1").symlink_to(world / "elsewhere")
        before = snapshot(world)
    result = invoke(*ATLAS, "-o", str(out))
    if link == "to-empty":
        assert result.exit_code == 0 and (world / "empty" / "atlas.json").is_file()
        user_entries_kept(before, snapshot(world))
    else:
        assert result.exit_code == 1 and snapshot(world) == before
    assert (world / "elsewhere" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in (world / "elsewhere").iterdir()) == ["keep.txt"]


@FEW
@given(around=TREES, inside=TREES, stop=st.one_of(st.none(), st.integers(1, 6)), after=st.booleans())
@example(around={"index.html": b"mine"}, inside={}, stop=2, after=True)
def test_a_study_among_a_users_files_touches_none(tmp_path_factory, checkpoints, around, inside, stop, after):
    world = tmp_path_factory.mktemp("world")
    lay_out(world, around)
    out = world / "study"
    lay_out(out, inside)
    before = snapshot(world)
    study = ["study", str(checkpoints / "epoch-001.pt"), "--steps", "1", "--size", "16", "-c", "0", "-o", str(out)]
    with ctrl_c_at_write(stop, after):
        first = invoke(*study)
    if any(_in("study", k) for k in before):
        assert first.exit_code == 1 and snapshot(world) == before  # the user's folder: refused, nothing written
        return
    again = invoke(*study)
    assert again.exit_code == 0, again.output
    after_runs = snapshot(world)
    user_entries_kept(before, after_runs)
    assert {k: v for k, v in after_runs.items() if not _in("study", k)} == {
        k: v for k, v in before.items() if not _in("study", k)
    }
    assert (out / "index.html").is_file() and list((out / "cells").rglob("*-side.png"))


@FEW
@given(around=TREES, inside=TREES)
@example(around={}, inside={"goldfish-seed0-side.png": b"mine"})
def test_run_into_a_folder_of_a_users_files_keeps_every_one(tmp_path_factory, around, inside):
    world = tmp_path_factory.mktemp("world")
    lay_out(world, around)
    out = world / "dreams"
    lay_out(out, inside)
    before = snapshot(world)
    result = invoke(*RUN, "-o", str(out))
    after_runs = snapshot(world)
    assert result.exit_code == 0, result.output
    user_entries_kept(before, after_runs)
    new = sorted(set(after_runs) - set(before))
    assert {k: v for k, v in after_runs.items() if not _in("dreams", k)} == {
        k: v for k, v in before.items() if not _in("dreams", k)
    }
    dreams = [k for k in new if k.endswith(".png")]
    assert len(dreams) == 2 and any(k.endswith("-side.png") for k in dreams), new
