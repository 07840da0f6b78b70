"""A plugin whose observing hook raises: one line naming it, the dream kept, a non-zero exit."""

from __future__ import annotations

import pytest
from PIL import Image

from dreamengine.cli import cli
from dreamengine.run.imaging import read_manifest

pytestmark = pytest.mark.usefixtures("one_thread", "resnet10t_quiet")

FAILS_AT_STEP_2 = """
    from dreamengine import hookimpl

    @hookimpl
    def dreamengine_step_end(job, step, scores):
        if step == 2:
            raise ValueError("the preview server went away")
"""

FAILS_AT_THE_END = """
    from dreamengine import hookimpl

    def upload(paths):
        raise ConnectionError("no route to the bucket")

    @hookimpl
    def dreamengine_run_end(config, result, paths):
        upload(paths)
"""


@pytest.fixture
def run_with(runner, fake_distribution, monkeypatch, fresh_cli, tmp_path):
    """Run ``dreamengine run`` (a 4-step dream of a tiny network) with one fake plugin installed."""
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "0")

    def run(dist: str, module: str, source: str):
        fake_distribution(dist, module, source)
        args = ["run", "--model", "resnet10t", "--size", "16", "--steps", "4", "--strategy", "none"]
        return runner.invoke(cli, [*args, "--reg", "clamp", "-o", str(tmp_path / "out.png")])

    return run


def test_a_failing_step_end_plugin_is_named_and_the_dream_so_far_is_kept(run_with, tmp_path):
    result = run_with("dreamengine-preview", "fake_preview", FAILS_AT_STEP_2)
    out = tmp_path / "out.png"
    assert result.exit_code == 1 and "Traceback" not in result.output and result.exception.__class__ is SystemExit
    message = " ".join(result.output.split())
    assert (
        "Error: plugin 'fake_preview' (dreamengine-preview) failed in dreamengine_step_end at step 2 "
        "(ValueError: the preview server went away); the dream so far (2 steps) was written, marked as stopped: "
        f"{out}" in message
    )
    stored = read_manifest(out)
    assert stored["interrupted"] is True and stored["steps_done"] == 2
    assert Image.open(out).size == (16, 16)


def test_a_failing_run_end_plugin_is_named_and_says_the_dream_was_written(run_with, tmp_path):
    result = run_with("dreamengine-upload", "fake_upload", FAILS_AT_THE_END)
    out = tmp_path / "out.png"
    assert result.exit_code == 1 and "Traceback" not in result.output
    message = " ".join(result.output.split())
    assert (
        "Error: plugin 'fake_upload' (dreamengine-upload) failed in dreamengine_run_end "
        f"(ConnectionError: no route to the bucket); the dream was written: {out}" in message
    )
    assert "interrupted" not in read_manifest(out) and read_manifest(out)["steps_done"] == 4
