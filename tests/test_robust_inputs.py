"""Hostile or mistaken input gets one true line, at once: a dream too large, a folder or a GIF as the start photo,
Ctrl-C during a long photo resize, --pretrained without a network."""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
import time
import warnings

import pytest
from PIL import Image, ImageOps

from dreamengine.cli import cli
from dreamengine.errors import DreamError, out_of_memory
from dreamengine.run import imaging
from dreamengine.run.batch import check_dream_size
from dreamengine.run.config import MAX_SIZE
from dreamengine.run.imaging import fit_image, load_image, read_manifest

pytestmark = pytest.mark.usefixtures("builtins_only_cli")

TINY = ["--model", "resnet10t", "--size", "16", "--steps", "1", "--strategy", "none"]


@pytest.mark.parametrize("size", ["10000x10000", "8193x16", "16x8193", "100000"])
def test_a_dream_past_the_size_limit_is_refused_in_one_line(runner, tmp_path, size):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), "red").save(photo)
    out = tmp_path / "d.png"
    unsized = [arg for arg in TINY if arg not in ("--size", "16")]
    result = runner.invoke(cli, ["run", *unsized, "--init", f"photo:path={photo}", "--size", size, "-o", str(out)])
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    assert f"size must be at most {MAX_SIZE} pixels a side" in " ".join(result.output.split())
    assert not out.exists()


def test_the_size_limit_admits_its_own_bound():
    """Also the guard for a size that no setting gave: a checkpoint's own input size, say."""
    check_dream_size(MAX_SIZE, 8)
    with pytest.raises(DreamError, match=f"at most {MAX_SIZE} pixels a side"):
        check_dream_size(MAX_SIZE + 1, 8)
    with pytest.raises(DreamError, match="at least 8 pixels"):
        check_dream_size(7, MAX_SIZE)


def test_a_folder_given_as_a_photo_is_said_to_be_a_folder(runner, tmp_path):
    result = runner.invoke(cli, ["run", *TINY, "--init", f"photo:path={tmp_path}"])
    assert result.exit_code == 1 and "is a folder, not an image file" in result.output
    assert "does not exist" not in result.output


def test_a_device_given_as_a_photo_is_not_said_to_be_missing():
    with pytest.raises(DreamError, match="is not a regular file"):
        load_image("/dev/null")


def test_a_gif_start_image_is_closed(tmp_path):
    path = tmp_path / "start.gif"
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_image(path).size == (20, 20)
        with pytest.raises(DreamError):
            read_manifest(path)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def _stubborn(*args, **kwargs):
    """A resize as Pillow's C code runs it: Ctrl-C waits until it returns, 3 seconds later."""
    end = time.monotonic() + 3
    while time.monotonic() < end:
        try:
            time.sleep(0.02)
        except KeyboardInterrupt:
            pass
    return Image.new("RGB", (8, 8))


def test_ctrl_c_during_a_long_photo_resize_stops_it_at_once(monkeypatch):
    monkeypatch.setattr(ImageOps, "fit", _stubborn)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, not a background job
    try:
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        started = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            fit_image(Image.new("RGB", (8, 8)), 8, 8)
        assert time.monotonic() - started < 2
        timer.join()
    finally:
        signal.signal(signal.SIGINT, before)


def test_the_helper_thread_hands_back_errors_and_values():
    assert fit_image(Image.new("RGB", (4, 2), "white"), 8, 8).shape == (3, 8, 8)
    with pytest.raises(DreamError, match="not a readable image"):
        imaging._responsive(lambda: imaging._read(__import__("pathlib").Path(__file__)))


def test_pretrained_without_a_network_fails_at_once_in_one_line(runner, monkeypatch):
    monkeypatch.setattr("dreamengine_builtins.models._hub_reachable", lambda timeout=3.0: False)
    started = time.monotonic()
    result = runner.invoke(cli, ["run", *TINY[2:], "--model", "resnet18", "--pretrained"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "huggingface.co cannot be reached and they are not in the local cache" in " ".join(result.output.split())
    assert time.monotonic() - started < 20


def test_the_hub_check_says_whether_anything_listens(monkeypatch):
    from huggingface_hub import constants

    from dreamengine_builtins.models import _hub_reachable

    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        assert _hub_reachable(timeout=2)
    started = time.monotonic()
    assert not _hub_reachable(timeout=2)  # the port is closed now
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    "command, advice",
    [
        ("run", "Ask for less at once: a smaller --size, fewer classes per run, or --strategy tile"),
        ("train", "Ask for less at once: a smaller --batch-size or --size."),
        ("study", "Ask for less at once: a smaller --size, or fewer --workers"),
        (None, "out of memory (it asked for 1.0 GiB more). Ask for less at once."),
    ],
)
def test_the_out_of_memory_advice_names_only_options_the_command_has(command, advice):
    error = out_of_memory(RuntimeError("can't allocate memory: you tried to allocate 1073741824 bytes"), command)
    assert advice in str(error)
    assert command == "train" or "--batch-size" not in str(error)


def test_train_running_out_of_memory_suggests_its_batch_size(runner, monkeypatch, tmp_path):
    def failing(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr("dreamengine.training.fine_tune.train", failing)
    result = runner.invoke(cli, ["train", str(tmp_path), "--model", "test_resnet", "--device", "cpu"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "a smaller --batch-size or --size" in " ".join(result.output.split())


def test_bf16_on_the_cpu_is_warned_about_in_one_line(runner, tmp_path):
    result = runner.invoke(cli, ["run", *TINY, "--precision", "bf16", "--device", "cpu", "-o", str(tmp_path / "d.png")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert said.count("warning: --precision bf16 on the CPU is usually far slower than fp32") == 1
    assert "it pays off on a GPU." in said
    plain = runner.invoke(cli, ["run", *TINY, "--device", "cpu", "-o", str(tmp_path / "e.png")])
    assert plain.exit_code == 0 and "far slower" not in plain.output
