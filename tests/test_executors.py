"""One executor layer: a plugin's executor, registered in one file, runs a study and an atlas through
``--executor NAME``; the options it does not take are refused; the work travels without what only this process
has; and the layer imports no torch."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest
from PIL import Image

from dreamengine import hookimpl
from dreamengine.cli import cli
from dreamengine.errors import DreamError
from dreamengine.run.executors import LocalExecutor, make_executor
from dreamengine.run.ray_executor import RayExecutor
from dreamengine.study.work import StudyWork
from dreamengine.testing import plugin_host

pytestmark = pytest.mark.usefixtures("builtins_only_cli", "one_thread")


class Reversed:
    """The tasks last first, in this process."""

    made: list[Reversed] = []

    def __init__(self, workers: int | None = None) -> None:
        self.workers, self.ran = workers, []
        Reversed.made.append(self)

    def run(self, tasks, work):
        for task in reversed(tasks):
            self.ran.append(task)
            yield task, work(task)


class ReversedPlugin:
    @hookimpl
    def dreamengine_register_executors(self, register):
        register("reversed", Reversed)


@pytest.fixture
def reversed_cli(monkeypatch):
    """The command line with the built-ins and the plugin that registers the ``reversed`` executor."""
    Reversed.made.clear()
    with plugin_host(ReversedPlugin()) as host:
        monkeypatch.setattr("dreamengine.cli.group._HOST", host)
        yield host


def _study(checkpoints, output, *executor):
    args = ["study", str(checkpoints), "--steps", "1", "--size", "16", "--device", "cpu", "-c", "0"]
    return [*args, "--epochs", "0,1", "-o", str(output), *executor]


def test_a_plugins_executor_runs_a_study_and_makes_the_same_cells(runner, reversed_cli, checkpoints, tmp_path):
    result = runner.invoke(cli, _study(checkpoints, tmp_path / "mine", "--executor", "reversed", "--workers", "3"))
    assert result.exit_code == 0, result.output
    ((executor,),) = [Reversed.made]
    assert executor.workers == 3 and [task.checkpoint.epoch for task in executor.ran] == [1, 0]
    local = runner.invoke(cli, _study(checkpoints, tmp_path / "local"))
    assert local.exit_code == 0, local.output
    made = sorted(path.relative_to(tmp_path / "mine") for path in (tmp_path / "mine").rglob("*.png"))
    assert made == sorted(path.relative_to(tmp_path / "local") for path in (tmp_path / "local").rglob("*.png"))
    for path in made:  # the same pictures (their manifests name their own folders)
        assert Image.open(tmp_path / "mine" / path).tobytes() == Image.open(tmp_path / "local" / path).tobytes()


def test_a_plugins_executor_runs_an_atlas(runner, reversed_cli, tmp_path):
    tiny = ["--model", "resnet10t", "--size", "32", "--steps", "2", "--layer", "layer1", "--units", "4"]
    out = tmp_path / "atlas"
    result = runner.invoke(cli, ["atlas", *tiny, "--batch", "2", "-o", str(out), "--executor", "reversed"])
    assert result.exit_code == 0, result.output
    assert "4 units in" in result.output and "4 dreamt now, 0 done before" in result.output
    ((executor,),) = [Reversed.made]
    assert [batch.units for batch in executor.ran] == [(2, 3), (0, 1)]
    assert json.loads((out / "atlas.json").read_text())["layers"][0]["units"] == [0, 1, 2, 3]


def test_list_shows_the_executors(runner, reversed_cli):
    result = runner.invoke(cli, ["list", "executors"])
    assert result.exit_code == 0
    assert all(name in result.output for name in ("local", "ray", "reversed", "The tasks last first"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--executor", "revesred"], "unknown executor 'revesred'. Did you mean 'reversed'?"),
        (["--executor", "reversed", "--address", "10.0.0.5:6379"], "--address is for --executor ray."),
        (["--address", "10.0.0.5:6379"], "--address and --workers are for --executor ray."),
    ],
)
def test_an_executor_or_option_that_does_not_fit_is_one_line(
    runner, reversed_cli, checkpoints, tmp_path, args, message
):
    result = runner.invoke(cli, _study(checkpoints, tmp_path, *args))
    assert result.exit_code == 1 and message in " ".join(result.output.split()), result.output
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_one_make_executor_for_every_name(host):
    assert isinstance(make_executor(host.registry, "local"), LocalExecutor)
    ray = pytest.importorskip("ray")
    assert ray and isinstance(make_executor(host.registry, "ray", workers=2), RayExecutor)
    with pytest.raises(DreamError, match="at least 1"):
        make_executor(host.registry, "ray", workers=0)


def test_the_work_travels_without_what_only_this_process_has(host, checkpoints, tmp_path):
    from dreamengine.run.config import RunConfig
    from dreamengine.study.plan import find_checkpoints, plan_study

    base = RunConfig(size=16, steps=1, device="cpu")
    plan = plan_study(base, find_checkpoints([str(checkpoints)]), [1], ["0"], ["logit"], ["0.5"], [0], tmp_path)
    work = StudyWork(host, plan.tasks, on_start=lambda task: None, on_step=lambda step, scores: None)
    copy = pickle.loads(pickle.dumps(work))
    assert copy.on_start is None and copy.on_step is None and copy._host is None
    assert copy.plugins == (False, ()) and copy.host.entry_points is False  # the same plugins, loaded again
    task = next(iter(plan.tasks))
    assert copy.reads(task) == [task.checkpoint.path] and copy.describe(task) == work.describe(task)


def test_the_executor_layer_and_the_shared_options_import_no_torch():
    code = (
        "import sys, dreamengine.run.executors, dreamengine.run.ray_executor, dreamengine.cli.executing\n"
        "print(sorted(m for m in ('torch', 'numpy', 'PIL', 'ray') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
