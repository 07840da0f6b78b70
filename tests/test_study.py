"""`dreamengine study`: the grid, resuming, cells equal to plain runs, contact sheets and the page in Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import replace

import pytest
from PIL import Image

from chromium import Chromium, find_chromium
from dreamengine import Objective, hookimpl
from dreamengine.cli import cli
from dreamengine.errors import DreamError
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import read_manifest
from dreamengine.run.prepare import apply_preset
from dreamengine.study.plan import blur_specs, find_checkpoints, plan_study
from dreamengine.study.runner import run_study
from dreamengine.testing import plugin_host

pytestmark = pytest.mark.usefixtures("one_thread", "builtins_only_cli")


def _plan(host, checkpoints, output, strategy=(), **changes):
    settings = dict(
        steps=[2, 4],
        classes=["red-vertical", "blue-discs"],
        objectives=["logit", "cross-entropy"],
        blurs=["0.5"],
        seeds=[0],
    )
    settings.update(changes)
    base = apply_preset(host, RunConfig(), "report").updated(
        {"size": 16, "device": "cpu", "strategy": list(strategy)}, "test"
    )
    return plan_study(
        base,
        find_checkpoints([str(checkpoints)]),
        settings["steps"],
        settings["classes"],
        settings["objectives"],
        settings["blurs"],
        settings["seeds"],
        output,
    )


def test_a_study_resumes_without_recomputing_finished_cells(host, checkpoints, tmp_path):
    plan = _plan(host, checkpoints, tmp_path)
    assert len(plan.tasks) == 2 * 2 * 2 and len(plan.cells) == 16
    assert run_study(host, plan) == 8
    stamps = {cell.path: cell.path.stat().st_mtime_ns for cell in plan.cells}
    assert run_study(host, plan) == 0
    assert {cell.path: cell.path.stat().st_mtime_ns for cell in plan.cells} == stamps
    lost = plan.cells[5]
    lost.side_path.unlink()
    assert run_study(host, plan) == 1 and lost.side_path.exists()
    assert run_study(host, _plan(host, checkpoints, tmp_path, seeds=[1])) == 8  # other settings: other cells


def test_an_interrupted_study_keeps_what_it_finished(host, checkpoints, tmp_path):
    plan = _plan(host, checkpoints, tmp_path, classes=["red-vertical"], objectives=["logit"])

    def interrupt(task, number, total):
        if number == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(host, plan, on_written=interrupt)
    assert [cell.is_done() for cell in plan.cells] == [True, True, False, False]
    assert not list(tmp_path.rglob("*.tmp"))
    assert run_study(host, plan) == 1


@pytest.mark.parametrize("strategy", [(), ("octaves:count=2:scale=1.5",)])
def test_each_cell_is_what_dreamengine_run_makes_with_its_settings(runner, host, checkpoints, tmp_path, strategy):
    plan = _plan(
        host,
        checkpoints,
        tmp_path / "study",
        strategy,
        classes=["blue-discs"],
        objectives=["cross-entropy"],
        steps=[2, 5],
    )
    run_study(host, plan)
    for cell in plan.cells:
        stored = read_manifest(cell.path)
        assert stored["config"]["steps"] == cell.steps and stored["steps_done"] == cell.steps
        assert stored["study"]["epoch"] == cell.task.checkpoint.epoch and stored["study"]["class"] == "blue-discs"
        again = tmp_path / f"again-{cell.path.name}"
        result = runner.invoke(cli, ["run", "--from", str(cell.path), "-o", str(again)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert Image.open(again).tobytes() == Image.open(cell.path).tobytes()
        assert read_manifest(again)["score"] == stored["score"]


def test_an_objective_that_reads_no_class_is_dreamed_once_and_written_for_every_class(
    runner, host, checkpoints, tmp_path, monkeypatch
):
    from dreamengine.study import work

    dreamed = []
    render = work.render_task
    monkeypatch.setattr(
        work, "render_task", lambda host, cells, *a: dreamed.append(cells[0].task) or render(host, cells, *a)
    )
    plan = _plan(host, checkpoints, tmp_path / "study", objectives=["layer:layer1", "logit"])
    assert run_study(host, plan) == len(plan.tasks) == 8  # 2 epochs x 2 classes x 2 objectives: all written
    assert sorted(task.objective for task in dreamed) == ["layer:layer1"] * 2 + ["logit"] * 4  # one per epoch
    assert run_study(host, plan) == 0 and all(cell.is_done() for cell in plan.cells)
    for cell in plan.cells:
        if cell.task.objective == "layer:layer1" and cell.task.target == "blue-discs":
            twin = next(
                c for c in plan.cells if c.task == replace(cell.task, target="red-vertical") and c.steps == cell.steps
            )
            assert Image.open(cell.path).tobytes() == Image.open(twin.path).tobytes()
            stored = read_manifest(cell.path)
            assert stored["config"]["classes"] == ["blue-discs"] and stored["study"]["class"] == "blue-discs"
            assert stored["target"] is None and stored["score"] == read_manifest(twin.path)["score"]
            again = tmp_path / f"again-{cell.path.name}"
            assert runner.invoke(cli, ["run", "--from", str(cell.path), "-o", str(again)]).exit_code == 0
            assert Image.open(again).tobytes() == Image.open(cell.path).tobytes()


def test_blur_settings():
    assert blur_specs("0.5") == ["blur:sigma=0.5"]
    assert blur_specs("0.1-1.0") == ["blur:sigma=0.1:sigma_max=1"]
    assert blur_specs("none") == []
    with pytest.raises(DreamError, match="not a sigma"):
        blur_specs("strong")


INTERRUPTS_THE_SECOND_RUN = """
    from dreamengine import hookimpl

    calls = []

    @hookimpl
    def dreamengine_step_end(job, step, scores):
        calls.append(step)
        if len(calls) == 5:  # the second dream run's second step (each run takes 3 steps)
            raise KeyboardInterrupt
"""


def test_ctrl_c_keeps_the_finished_runs_and_says_how_to_resume(
    runner, checkpoints, tmp_path, fake_distribution, monkeypatch
):
    fake_distribution("dreamengine-interrupts", "fake_study_interrupts", INTERRUPTS_THE_SECOND_RUN)
    monkeypatch.delenv("DREAMENGINE_NO_ENTRYPOINTS")
    args = [
        "study",
        str(checkpoints),
        "--steps",
        "1,3",
        "--size",
        "16",
        "--device",
        "cpu",
        "-c",
        "0",
        "-o",
        str(tmp_path / "s"),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert "Interrupted: 1 of 2 dream runs are done and kept in" in " ".join(result.output.split())
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")
    monkeypatch.setattr("dreamengine.cli.group._HOST", None)
    again = runner.invoke(cli, args, catch_exceptions=False)
    assert "(1 of 2 dream runs made now, 1 already done)" in " ".join(again.output.split())


def test_the_command_writes_cells_sheets_and_page(runner, checkpoints, tmp_path):
    out = tmp_path / "s"
    args = [
        "study",
        str(checkpoints),
        "--steps",
        "1,3",
        "--size",
        "16",
        "--device",
        "cpu",
        "-c",
        "0",
        "--blur",
        "0.5",
        "--blur",
        "none",
        "-o",
        str(out),
    ]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "8 cells (all 4 dream runs made now)" in result.output
    sheets = sorted(p.name for p in (out / "sheets").iterdir())
    assert sheets == ["full_blue-discs_logit_blur-0-5_seed0.png", "full_blue-discs_logit_blur-none_seed0.png"]
    sheet = Image.open(out / "sheets" / sheets[0])
    assert sheet.width > 2 * 96 and sheet.height > 2 * 96
    assert read_manifest(out / "sheets" / sheets[0])["study_sheet"]["epochs"] == [0, 1]
    assert (out / "index.html").read_text().count('"raw": ') == 8
    again = runner.invoke(cli, args, catch_exceptions=False)
    assert "(all 4 dream runs were already done)" in again.output


def test_the_command_says_when_one_dream_serves_every_class_and_counts_in_the_singular(runner, checkpoints, tmp_path):
    shared = [
        "study",
        str(checkpoints),
        "--steps",
        "1",
        "--size",
        "16",
        "--device",
        "cpu",
        "-c",
        "0",
        "-c",
        "1",
        "--objective",
        "layer:layer1",
        "-o",
        str(tmp_path / "shared"),
    ]
    result = runner.invoke(cli, shared)
    assert result.exit_code == 0, result.output
    assert (
        "layer:layer1 reads no class: each of its dreams is the same for the 2 classes, so the study dreams it "
        "once and writes it for each (2 dreams for its 4 runs)."
    ) in " ".join(result.output.split())
    one = [
        "study",
        str(checkpoints / "epoch-001.pt"),
        "--steps",
        "1",
        "--size",
        "16",
        "--device",
        "cpu",
        "-c",
        "0",
        "-o",
        str(tmp_path / "one"),
    ]
    assert "1 cell (1 dream run made now); 1 contact sheet;" in runner.invoke(cli, one).output
    assert "1 cell (1 dream run was already done); 1 contact sheet;" in runner.invoke(cli, one).output


def test_cells_made_with_other_settings_are_said_to_be_made_again(runner, checkpoints, tmp_path):
    study = [
        "study",
        str(checkpoints / "epoch-001.pt"),
        "--steps",
        "1,2",
        "--size",
        "16",
        "--device",
        "cpu",
        "-c",
        "0",
        "-o",
        str(tmp_path),
    ]
    assert "warning" not in runner.invoke(cli, study).output
    changed = runner.invoke(cli, [*study, "--lr", "0.2"])
    assert changed.exit_code == 0, changed.output
    said = " ".join(changed.output.split())
    assert "warning: 2 cells in" in said and "were made with other settings, checkpoints or weights (e.g." in said
    assert "this study makes them again in their place." in said and "(1 dream run made now)" in said
    assert "warning" not in runner.invoke(cli, [*study, "--lr", "0.2"]).output


@pytest.mark.parametrize(
    "objective, target", [("logit", {"index": 0, "name": "blue-discs", "item": 0}), ("layer:layer1", None)]
)
def test_a_cells_settings_name_its_class_only_if_its_objective_dreams_it(
    runner, checkpoints, tmp_path, objective, target
):
    out = tmp_path / "s"
    result = runner.invoke(
        cli,
        [
            "study",
            str(checkpoints / "epoch-001.pt"),
            "--steps",
            "1",
            "--size",
            "16",
            "--device",
            "cpu",
            "-c",
            "0",
            "--objective",
            objective,
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    (cell,) = [p for p in (out / "cells").rglob("*.png") if not p.stem.endswith("-side")]
    assert read_manifest(cell)["target"] == target


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing-folder"], "does not exist"),
        (["{ck}", "--steps", "a,b"], "whole numbers"),
        (["{ck}", "--steps", "0"], ">= 1"),
        (["{ck}", "--epochs", "7,9"], "no checkpoint is at --epochs 7,9: the checkpoints given are at epochs 0, 1."),
        (["{ck}", "--blur", "big"], "not a sigma"),
        (["{ck}", "--class", "purple"], "unknown class"),
        (["{ck}", "--objective", "logit; cross-entropy"], "a study's cell is one dream: give each objective its own"),
    ],
)
def test_bad_study_input_gets_one_clear_line(runner, checkpoints, tmp_path, args, message):
    args = [a.replace("{ck}", str(checkpoints)) for a in args]
    result = runner.invoke(cli, ["study", *args, "-o", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_study_replaces_its_own_page_but_never_another_index_html(runner, checkpoints, tmp_path):
    study = ["study", str(checkpoints / "epoch-001.pt"), "--steps", "1", "--size", "16", "-c", "0", "-o", str(tmp_path)]
    for _ in range(2):  # the second run replaces the first's page
        assert runner.invoke(cli, study).exit_code == 0
    page = tmp_path / "index.html"
    page.write_text("<h1>my website</h1>")
    for cell in (tmp_path / "cells").rglob("*.png"):
        cell.unlink()
    result = runner.invoke(cli, study)
    assert result.exit_code == 1 and "index.html, changed since dreamengine study wrote" in " ".join(
        result.output.split()
    )
    assert page.read_text() == "<h1>my website</h1>" and not list((tmp_path / "cells").rglob("*.png"))


def test_the_ray_executor_without_ray_says_how_to_install_it(runner, checkpoints, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what a missing package looks like to import
    result = runner.invoke(
        cli,
        [
            "study",
            str(checkpoints),
            "--steps",
            "1",
            "--size",
            "16",
            "-c",
            "0",
            "--executor",
            "ray",
            "-o",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "pip install 'dreamengine[ray]'" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.rglob("*.png"))


def test_a_ray_address_where_nothing_listens_fails_in_seconds(runner, checkpoints, tmp_path):
    with socket.socket() as probe:  # a loopback port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(
        cli,
        [
            "study",
            str(checkpoints),
            "--steps",
            "1",
            "--size",
            "16",
            "-c",
            "0",
            "--executor",
            "ray",
            "--address",
            f"127.0.0.1:{port}",
            "-o",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1, result.output
    assert (
        f"cannot reach the Ray cluster at 127.0.0.1:{port}: nothing answers there (connection refused)" in result.output
    ) and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--address", "127.0.0.1:6379"], "are for --executor ray"),
        (["--workers", "2"], "are for --executor ray"),
        (["--executor", "ray", "--address", "127.0.0.1:6379", "--workers", "2"], "an --address has its own"),
        (["--executor", "ray", "--workers", "0"], "at least 1"),
    ],
)
def test_executor_settings_that_do_not_fit_get_one_clear_line(runner, checkpoints, tmp_path, args, message):
    result = runner.invoke(cli, ["study", str(checkpoints), "--steps", "1", "-c", "0", *args, "-o", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.fixture(scope="session")
def chromium_path():
    """Chromium on PATH; installed with apt-get when running as root where apt exists; otherwise skip."""
    path = find_chromium()
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("the page test needs Chromium: install Debian's chromium package (apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=900)
    installed = subprocess.run(
        ["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, text=True, timeout=1800
    )
    path = find_chromium()
    if not path:
        pytest.skip(f"Chromium could not be installed with apt-get: {installed.stderr.strip()[-300:]}")
    return path


@pytest.fixture
def browser(chromium_path, tmp_path):
    chromium = Chromium(chromium_path, str(tmp_path / "profile"))
    yield chromium
    chromium.close()


SHOW_ALL = """
(async () => {
  const seen = [];
  const selects = [...document.querySelectorAll("select")];
  const combos = selects.reduce((acc, s) => acc.flatMap(c => [...s.options].map(o => [...c, [s, o.value]])), [[]]);
  for (const combo of combos) {
    for (const [select, value] of combo) select.value = value;
    selects[0].dispatchEvent(new Event("change"));
    const images = [...document.querySelectorAll("#grid img")];
    await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
    seen.push(images.map(i => ({src: i.getAttribute("src"), ok: i.complete && i.naturalWidth > 0, title: i.title})));
  }
  return seen;
})()
"""


def test_the_page_shows_every_image_without_errors_in_chromium(host, checkpoints, tmp_path, browser):
    from dreamengine.study.gallery import write_gallery
    from dreamengine.study.sheets import write_sheets

    plan = _plan(host, checkpoints, tmp_path / "study")
    run_study(host, plan)
    write_sheets(plan)
    page = write_gallery(plan, "test study")
    browser.open(page.resolve().as_uri())
    grids = browser.evaluate(SHOW_ALL)
    assert len(grids) == 4 and all(len(grid) == 2 * 2 for grid in grids)
    shown = [image for grid in grids for image in grid]
    assert all(image["ok"] for image in shown), [i["src"] for i in shown if not i["ok"]]
    assert {image["src"] for image in shown} == {str(c.side_path.relative_to(plan.output)) for c in plan.cells}
    assert all("objective: " in image["title"] and "steps: " in image["title"] for image in shown)
    details = browser.evaluate(
        'document.querySelector("#grid img").click(); document.getElementById("details").textContent'
    )
    assert "epoch 0, 2 steps" in details and "reg: clamp, flip, blur:sigma=0.5" in details
    assert browser.problems() == []
    assert browser.evaluate("document.body.dataset.failed") == "0"


LAYOUT = """
(async () => {
  const images = [...document.querySelectorAll("#grid img")];
  await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const boxes = images.map(i => i.getBoundingClientRect());
  return {
    src: images.map(i => i.getAttribute("src")),
    ok: images.every(i => i.naturalWidth > 0),
    width: boxes.map(b => b.width), height: boxes.map(b => b.height),
    across: boxes[1].left - boxes[0].right, down: boxes[2].top - boxes[0].bottom,
    position: getComputedStyle(images[0]).objectPosition,
    hash: location.hash,
  };
})()
"""


def test_the_page_shows_rescaled_or_raw_dreams_in_a_grid_that_fills_the_window(host, checkpoints, tmp_path, browser):
    from dreamengine.study.gallery import write_gallery

    plan = _plan(host, checkpoints, tmp_path / "study", classes=["red-vertical"], objectives=["logit"])
    run_study(host, plan)
    browser.send(
        "Emulation.setDeviceMetricsOverride", session=True, width=1200, height=900, deviceScaleFactor=1, mobile=False
    )
    page = write_gallery(plan).resolve().as_uri()
    browser.open(page)
    rescaled = browser.evaluate(LAYOUT)
    cells = [c for c in plan.cells if c.task.checkpoint.run == plan.cells[0].task.checkpoint.run]
    assert rescaled["ok"] and set(rescaled["src"]) <= {str(c.side_path.relative_to(plan.output)) for c in cells}
    assert rescaled["position"] == "100% 0px"  # the right half of raw | rescaled: the rescaled dream alone
    sizes = set(rescaled["width"]) | set(rescaled["height"])
    assert len(sizes) == 1 and sizes.pop() >= 200  # square pictures, far larger than the 16-pixel dreams
    assert rescaled["across"] == rescaled["down"] > 0  # one gap between pictures, across and down
    browser.evaluate('document.querySelector("input[value=raw]").click()')
    raw = browser.evaluate(LAYOUT)
    assert raw["ok"] and set(raw["src"]) <= {str(c.path.relative_to(plan.output)) for c in cells}
    assert "view=raw" in raw["hash"] and raw["width"] == rescaled["width"]
    browser.open("about:blank")
    browser.open(page + raw["hash"])  # the link keeps the choice
    assert browser.evaluate(LAYOUT)["src"] == raw["src"]
    assert browser.problems() == []


def test_the_page_check_catches_a_missing_image(host, checkpoints, tmp_path, browser):
    from dreamengine.study.gallery import write_gallery

    plan = _plan(host, checkpoints, tmp_path / "study", classes=["red-vertical"], objectives=["logit"])
    run_study(host, plan)
    plan.cells[0].side_path.unlink()
    browser.open(write_gallery(plan).resolve().as_uri())
    grids = browser.evaluate(SHOW_ALL)
    assert [image["ok"] for image in grids[0]] == [False, True, True, True]
    assert browser.problems() and int(browser.evaluate("document.body.dataset.failed")) >= 1


class CellObserver:
    """Sees every dream's run_dream and run_end, as a plugin would."""

    def __init__(self):
        self.dreams, self.ends = [], []

    @hookimpl(wrapper=True)
    def dreamengine_run_dream(self, job):
        self.dreams.append(job.steps)
        return (yield)

    @hookimpl
    def dreamengine_run_end(self, config, result, paths):
        self.ends.append((config.steps, config.classes, result.steps_done, [(p.name, p.is_file()) for p in paths]))


def test_run_dream_and_run_end_see_every_study_cell(checkpoints, tmp_path):
    observer = CellObserver()
    with plugin_host(observer) as host:
        plan = _plan(host, checkpoints, tmp_path, objectives=["logit", "layer:layer1"], classes=["red-vertical"])
        plan = replace(plan, tasks={task: cells for task, cells in plan.tasks.items() if task.checkpoint.epoch == 1})
        assert run_study(host, plan) == 2
    assert observer.dreams == [4, 4]  # one dream per task, its cells the snapshots at 2 and 4 steps
    expected = [
        (steps, ["red-vertical"], steps, [(cell.path.name, True), (cell.side_path.name, True)])
        for cells in plan.tasks.values()
        for cell, steps in zip(cells, (2, 4))
    ]
    assert observer.ends == expected


class CountedObjective:
    """Registers ``counted``, a logit objective that counts how often it is built."""

    def __init__(self):
        self.built = 0

    @hookimpl
    def dreamengine_register_objectives(self, register):
        def counted():
            """The target's logit, counted."""
            self.built += 1
            return TargetLogit()

        register("counted", counted)


class TargetLogit(Objective):
    def __call__(self, outputs):
        return outputs.logits.gather(1, outputs.targets[:, None])[:, 0]


def test_a_study_builds_each_tasks_objective_once(checkpoints, tmp_path):
    counter = CountedObjective()
    with plugin_host(counter) as host:
        plan = _plan(host, checkpoints, tmp_path, objectives=["counted"])
        assert run_study(host, plan) == len(plan.tasks) == 4
    assert counter.built == 4 + 1  # once per task, and once to learn whether it reads the class
