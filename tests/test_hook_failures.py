"""A plugin whose observing hook raises: one line naming it, the dream kept, a non-zero exit."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from dreamengine import DreamResult, RunConfig, hookimpl
from dreamengine.cli import cli
from dreamengine.run.imaging import read_manifest
from dreamengine.run.observers import HookFailed, culprit, run_ended
from dreamengine.testing import plugin_host

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


class Uploader:
    """A plugin object whose run_end method fails in a helper it calls."""

    @hookimpl
    def dreamengine_run_end(self, config, result, paths):
        self.upload(paths)

    def upload(self, paths):
        raise OSError("disk\nfull")


def test_the_failing_plugin_is_found_among_several_even_when_a_method_of_it_raises(tmp_path):
    quiet = Observer()
    with plugin_host(Uploader(), quiet) as host:  # the quiet one runs first (pluggy calls the last registered first)
        with pytest.raises(HookFailed) as failed:
            run_ended(host, RunConfig(), DREAM, [tmp_path / "a.png"])
    assert str(failed.value) == (
        f"plugin 'Uploader' (the plugin under test) failed in dreamengine_run_end (OSError: disk full); "
        f"the dream was written: {tmp_path / 'a.png'}"
    )
    assert culprit(host, "dreamengine_run_end", None) is None


class Observer:
    """A run_end that works."""

    @hookimpl
    def dreamengine_run_end(self, paths):
        pass


DREAM = DreamResult(torch.zeros(1, 3, 8, 8), torch.zeros(1), 1)
