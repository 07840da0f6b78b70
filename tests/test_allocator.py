"""The allocator's thresholds: set once on glibc, left alone where the user set them or on another C library."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from dreamengine.run import allocator

GLIBC = platform.libc_ver()[0] == "glibc"


def _in_child(environment: dict[str, str]) -> str:
    code = "from dreamengine.run.allocator import keep_freed_memory as k; print(k(), k())"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    ).stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_thresholds_are_set_on_glibc_once():
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    assert _in_child(environment) == "True True"


def test_the_users_own_thresholds_win():
    environment = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "131072"}
    assert _in_child(environment) == "False False"


def test_another_c_library_is_left_alone(monkeypatch):
    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert allocator.keep_freed_memory() is False
