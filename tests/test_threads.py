"""Threads: how many a run chooses on a busy machine, the count stored with each dream and used again by
``--from``, and pictures that do not depend on it in MKL's strict mode."""

from __future__ import annotations

import os

import pytest
import torch

from dreamengine.cli import cli
from dreamengine.errors import DreamError
from dreamengine.run import threads as thread_choice
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import read_manifest
from dreamengine.run.recipe import command_line, stored_config
from dreamengine.run.threads import ThreadChoice, apply_threads, busy_cpus, choose_threads, usable_cpus

TINY = ["--model", "resnet10t", "--size", "32", "--steps", "2", "--strategy", "none"]

pytestmark = pytest.mark.usefixtures("builtins_only_cli")


@pytest.fixture
def restore_threads():
    """Put torch's thread count back as it was after the test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("cpus", "busy", "threads"),
    [(2, 0.0, 2), (2, 0.1, 2), (2, 0.3, 1), (2, 1.0, 1), (2, 2.0, 1), (8, 2.5, 5), (1, 0.0, 1)],
)
def test_one_thread_per_cpu_that_other_programs_leave_free(cpus, busy, threads):
    assert choose_threads(cpus, busy) == ThreadChoice(threads, cpus, busy, automatic=True)


def test_the_note_speaks_only_when_fewer_threads_than_cpus_were_chosen():
    note = choose_threads(2, 1.0).note()
    assert note == (
        "other programs keep 1.0 of the 2 CPUs busy: dreaming on 1 thread, which is faster here "
        "(--threads N to choose)."
    )
    assert choose_threads(2, 0.0).note() is None
    assert ThreadChoice(1, 2, 1.0, automatic=False).note() is None  # asked for: nothing to explain


def test_busy_cpus_is_the_share_of_each_allowed_cpu_that_was_not_idle(monkeypatch):
    snapshots = iter([{0: (100, 1000), 1: (500, 1000)}, {0: (150, 1100), 1: (600, 1100)}])
    monkeypatch.setattr(thread_choice, "_cpu_times", lambda allowed: next(snapshots))
    monkeypatch.setattr(thread_choice, "usable_cpus", lambda: 2)
    assert busy_cpus(0) == pytest.approx(0.5 + 0.0)


def test_busy_cpus_falls_back_to_the_load_average(monkeypatch):
    def unreadable(allowed):
        raise OSError("no /proc here")

    monkeypatch.setattr(thread_choice, "_cpu_times", unreadable)
    monkeypatch.setattr(thread_choice.os, "getloadavg", lambda: (1.25, 0.0, 0.0))
    monkeypatch.setattr(thread_choice, "usable_cpus", lambda: 4)
    assert busy_cpus(0) == 1.25


def test_a_cgroup_quota_caps_the_usable_cpus(monkeypatch):
    monkeypatch.setattr(thread_choice, "_cgroup_quota", lambda: 1.5)
    assert usable_cpus() == min(2, len(os.sched_getaffinity(0)))
    monkeypatch.setattr(thread_choice, "_cgroup_quota", lambda: None)
    assert usable_cpus() == len(os.sched_getaffinity(0))


def test_threads_asked_for_are_used_and_omp_num_threads_is_respected(monkeypatch, restore_threads):
    assert apply_threads(1) == ThreadChoice(1, usable_cpus(), 0.0, automatic=False)
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert apply_threads(None).automatic is False and torch.get_num_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(thread_choice, "busy_cpus", lambda: float(usable_cpus()))  # every CPU busy
    assert apply_threads(None) == ThreadChoice(1, usable_cpus(), float(usable_cpus()), automatic=True)
    with pytest.raises(DreamError, match="threads must be 1 or more, got 0"):
        apply_threads(0)


def test_threads_is_a_setting_of_config_files_and_the_command_line(runner, tmp_path, restore_threads):
    assert RunConfig().updated({"threads": 2}, "a test").threads == 2
    with pytest.raises(DreamError, match="setting 'threads' in a test must be int"):
        RunConfig().updated({"threads": "2"}, "a test")
    (tmp_path / "one.toml").write_text("threads = 1\n")
    result = runner.invoke(cli, ["run", *TINY, "--config", str(tmp_path / "one.toml"), "-o", str(tmp_path / "a.png")])
    assert result.exit_code == 0, result.output
    assert read_manifest(tmp_path / "a.png")["threads"] == 1 and torch.get_num_threads() == 1
    result = runner.invoke(cli, ["run", *TINY, "--threads", "0"])
    assert result.exit_code != 0 and "--threads" in result.output


def test_the_thread_count_is_stored_and_from_and_info_use_it_again(runner, tmp_path, monkeypatch, restore_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(thread_choice, "busy_cpus", lambda: 0.0)
    made = tmp_path / "made.png"
    assert runner.invoke(cli, ["run", *TINY, "-o", str(made)]).exit_code == 0
    manifest = read_manifest(made)
    assert manifest["threads"] == usable_cpus() and manifest["config"]["threads"] is None  # chosen, not asked for
    assert stored_config(made).threads == usable_cpus()
    assert command_line(stored_config(made))[-2:] == ["--threads", str(usable_cpus())]
    torch.set_num_threads(1)
    monkeypatch.setattr(thread_choice, "busy_cpus", lambda: float(usable_cpus()))  # busy now: 1 if chosen
    again = tmp_path / "again.png"
    assert runner.invoke(cli, ["run", "--from", str(made), "-o", str(again)]).exit_code == 0
    assert read_manifest(again)["threads"] == usable_cpus()
    busy = runner.invoke(cli, ["run", *TINY, "-o", str(tmp_path / "busy.png")])
    assert ("dreaming on 1 thread" in busy.output) == (usable_cpus() > 1)
    assert read_manifest(tmp_path / "busy.png")["threads"] == 1


def test_study_takes_threads_or_chooses_them_and_says_so_when_busy(
    runner, tmp_path, checkpoints, monkeypatch, restore_threads
):
    study = ["study", str(checkpoints), "--epochs", "0", "--steps", "1", "-c", "0", "--size", "16", "--device", "cpu"]
    torch.set_num_threads(2)
    result = runner.invoke(cli, [*study, "--threads", "1", "-o", str(tmp_path / "asked")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert {read_manifest(cell)["threads"] for cell in (tmp_path / "asked").rglob("*steps-?????.png")} == {1}
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(thread_choice, "usable_cpus", lambda: 2)
    monkeypatch.setattr(thread_choice, "busy_cpus", lambda: 1.0)
    torch.set_num_threads(2)
    result = runner.invoke(cli, [*study, "-o", str(tmp_path / "busy")], catch_exceptions=False)
    assert "other programs keep 1.0 of the 2 CPUs busy: dreaming on 1 thread" in " ".join(result.output.split())
    assert {read_manifest(cell)["threads"] for cell in (tmp_path / "busy").rglob("*steps-?????.png")} == {1}


def test_a_dream_made_again_from_its_settings_replaces_itself(runner, tmp_path, monkeypatch, restore_threads):
    """``--from`` names the thread count the command chose; the dream it makes is the same one, in the same file."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(thread_choice, "busy_cpus", lambda: 0.0)
    folder = tmp_path / "dreams"
    assert runner.invoke(cli, ["run", *TINY, "-o", str(folder)]).exit_code == 0
    (made,) = folder.glob("*.png")
    again = runner.invoke(cli, ["run", "--from", str(made), "-o", str(folder)])
    assert again.exit_code == 0, again.output
    assert [path.name for path in folder.glob("*.png")] == [made.name]
    assert read_manifest(made)["config"]["threads"] == usable_cpus()  # now the settings name it
    other = runner.invoke(cli, ["run", *TINY, "--threads", str(usable_cpus() + 1), "-o", str(folder)])
    assert other.exit_code == 0 and len(list(folder.glob("*.png"))) == 2  # another count: another dream, kept apart
