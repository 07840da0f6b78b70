"""`dreamengine study --executor ray` on a real two-node Ray cluster on 127.0.0.1, with a worker killed mid-study."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest
from PIL import Image

from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import read_manifest
from dreamengine.run.inputs import files_read
from dreamengine.run.owned import LIST_NAME
from dreamengine.run.prepare import apply_preset
from dreamengine.study.plan import find_checkpoints, plan_study
from dreamengine.study.render import render_task
from dreamengine.study.runner import run_study
from dreamengine.study.work import StudyWork

ray = pytest.importorskip("ray", reason="the Ray executor's tests need Ray: pip install -e '.[test]'")

from dreamengine.run.ray_executor import RayExecutor  # noqa: E402  (after the skip: it is only usable with Ray)
from ray_cluster import LOOPBACK, WorkerKiller, listening_on, our_processes, two_node_cluster  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread", "builtins_only_cli")

#: the dream task's process title while a Ray worker runs it
TASK_TITLE = b"ray::_run_task"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A two-node Ray cluster on 127.0.0.1 for this module's tests: its address and marker."""
    with two_node_cluster(tmp_path_factory.mktemp("ray")) as found:
        yield found


def _plan(host, checkpoints, output, steps=(30, 60), classes=("red-vertical", "blue-discs")):
    base = apply_preset(host, RunConfig(), "report").updated({"size": 16, "device": "cpu"}, "test")
    return plan_study(base, find_checkpoints([str(checkpoints)]), steps, classes, ["logit"], ["0.5"], [0], output)


def _settings(path: Path) -> dict:
    """A cell's manifest, but for where it was written."""
    stored = read_manifest(path)
    del stored["config"]["output"]
    return stored


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_study_on_a_ray_cluster_survives_a_killed_worker_and_equals_the_local_one(
    host, checkpoints, cluster, tmp_path
):
    address, marker = cluster
    local, remote = _plan(host, checkpoints, tmp_path / "local"), _plan(host, checkpoints, tmp_path / "ray")
    assert run_study(host, local) == 4
    killer = WorkerKiller(marker, TASK_TITLE)
    killer.start()
    try:
        assert run_study(host, remote, RayExecutor(address=address)) == 4
    finally:
        killer.stop.set()
    assert killer.killed is not None, "no worker was seen running a task"
    assert LOOPBACK >= listening_on(our_processes(marker)) != set()  # nothing listens beyond this machine
    cells = [name for name in _files(remote.output) if name != LIST_NAME]  # and the list of what the study wrote
    assert _files(remote.output) == _files(local.output) and len(cells) == 2 * len(remote.cells)
    for mine, theirs in zip(remote.cells, local.cells):
        assert mine.is_done()
        for path, other in ((mine.path, theirs.path), (mine.side_path, theirs.side_path)):
            assert Image.open(path).tobytes() == Image.open(other).tobytes()
        assert _settings(mine.path) == _settings(theirs.path)
    stamps = {path: path.stat().st_mtime_ns for path in remote.output.rglob("*.png")}
    assert run_study(host, remote, RayExecutor(address=address)) == 0
    assert {path: path.stat().st_mtime_ns for path in remote.output.rglob("*.png")} == stamps


def test_without_an_address_the_study_starts_a_ray_of_its_own_on_loopback(host, checkpoints, tmp_path):
    plan = _plan(host, checkpoints, tmp_path, steps=[1, 2], classes=["red-vertical"])
    listening = []

    def check(task, number, total):  # while this process's own Ray runs
        listening.append(listening_on(our_processes()))

    assert run_study(host, plan, RayExecutor(workers=1), on_written=check) == 2
    assert all(cell.is_done() for cell in plan.cells) and not list(tmp_path.rglob("*.tmp"))
    assert len(listening) == 2 and LOOPBACK >= set().union(*listening) != set()
    assert not ray.is_initialized()  # it stopped its Ray


def _photo(path: Path) -> Path:
    Image.new("RGB", (24, 16), (200, 40, 40)).save(path)
    return path


def test_a_photo_start_travels_with_the_task_and_the_manifest_keeps_its_path(host, checkpoints, tmp_path):
    photo = _photo(tmp_path / "start.png")
    plans = [
        plan_study(
            apply_preset(host, RunConfig(), "report").updated(
                {"size": 16, "device": "cpu", "init": f"photo:path={photo}"}, "test"
            ),
            find_checkpoints([str(checkpoints / "epoch-001.pt")]),
            [1],
            ["red-vertical"],
            ["logit"],
            ["0.5"],
            [0],
            tmp_path / name,
        )
        for name in ("local", "ray")
    ]
    assert run_study(host, plans[0]) == 1 and run_study(host, plans[1], RayExecutor(workers=1)) == 1
    (local,), (remote,) = plans[0].cells, plans[1].cells
    assert Image.open(remote.path).size == (16, 11)  # dreamed from the photo, in its shape
    assert Image.open(remote.path).tobytes() == Image.open(local.path).tobytes()
    assert (
        _settings(remote.path) == _settings(local.path) and f"path={photo}" in _settings(remote.path)["config"]["init"]
    )


def test_a_worker_dreams_from_the_shipped_bytes_not_the_drivers_files(host, checkpoints, tmp_path):
    """As on a machine without the driver's files: the checkpoint, the photo, the guide and the mask are gone."""
    from dreamengine.run.ray_executor import _run_task

    photo, guide = _photo(tmp_path / "start.png"), tmp_path / "guide.png"
    Image.new("RGB", (16, 16), (0, 90, 200)).save(guide)
    mask = tmp_path / "mask.png"
    Image.new("L", (24, 16), 255).save(mask)
    base = apply_preset(host, RunConfig(), "report").updated(
        {"size": 16, "device": "cpu", "init": f"photo:{photo}", "reg": [f"+mask:path={mask}"]}, "test"
    )
    plan = plan_study(
        base,
        find_checkpoints([str(checkpoints / "epoch-001.pt")]),
        [1],
        ["red-vertical"],
        [f"logit + 0.1*guide:layer1:{guide}"],
        ["0.5"],
        [0],
        tmp_path / "study",
    )
    ((task, cells),) = plan.tasks.items()
    assert files_read(host.registry, cells[0].config) == [str(photo), str(mask), str(guide)]
    contents = [path.read_bytes() for path in (photo, mask, guide)]
    files = [(str(path), _copy_name(data, path)) for path, data in zip((photo, mask, guide), contents)]
    checkpoint = Path(task.checkpoint.path).read_bytes()
    expected = render_task(host, cells)[0][0].png
    for path in (photo, mask, guide):
        path.unlink()
    moved = tmp_path / "elsewhere.pt"
    Path(task.checkpoint.path).rename(moved)
    try:
        work = pickle.loads(pickle.dumps(StudyWork(host, plan.tasks)))  # as a worker gets it: its own plugin host
        shipped = [(task.checkpoint.path, _copy_name(checkpoint, moved)), *files]
        (output,) = _run_task(work, task, shipped, 1, checkpoint, *contents)
    finally:
        moved.rename(task.checkpoint.path)
    assert output.png == expected  # the same dream, and the settings stored keep the driver's paths


def _copy_name(data: bytes, path: Path) -> str:
    """The name a worker's copy of a file takes, as the executor gives it: its SHA-256 and suffix (a made-up name
    would meet another test's copy, of other bytes, in the worker's folder of copies)."""
    return f"{hashlib.sha256(data).hexdigest()}{path.suffix}"


class FailingRay:
    """Stands in for the ``ray`` module where a call fails the way Ray's does."""

    exceptions = ray.exceptions

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def is_initialized(self) -> bool:
        return False

    def init(self, **settings) -> None:
        raise self.error

    def get(self, ref):
        raise self.error


def test_a_dream_error_on_a_worker_comes_back_as_itself(host, checkpoints, tmp_path):
    from dreamengine.errors import DreamError
    from dreamengine.run.ray_cluster import task_result

    plan = _plan(host, checkpoints, tmp_path)
    dreaming = StudyWork(host, plan.tasks).describe(next(iter(plan.tasks)))
    failure = ray.exceptions.RayTaskError("_run_task", "Traceback ...", DreamError("the learning rate is too high"))
    with pytest.raises(DreamError, match="^the learning rate is too high$"):
        task_result(FailingRay(failure), None, dreaming)
    with pytest.raises(DreamError, match="Ray workers kept dying while dreaming red-vertical, full epoch 0"):
        task_result(FailingRay(ray.exceptions.WorkerCrashedError()), None, dreaming)


@pytest.mark.parametrize(
    "address, message",
    [
        ("10.0.0.5:6379", "cannot reach the Ray cluster at 10.0.0.5:6379: no cluster there"),
        (None, "cannot start Ray here: no cluster there"),
    ],
)
def test_a_ray_that_cannot_be_reached_or_started_gets_one_line(address, message):
    from dreamengine.errors import DreamError

    with pytest.raises(DreamError, match=f"^{message}$"):
        RayExecutor(address=address)._connect(FailingRay(ConnectionError("no cluster there\nmore detail")))


@pytest.mark.parametrize("address", ["", "  "])
def test_an_empty_address_is_one_line_before_ray_is_asked(address):
    from dreamengine.errors import DreamError

    with pytest.raises(DreamError, match=r"^--address is empty: give the head's HOST:PORT"):
        RayExecutor(address=address)


def test_a_weights_file_row_and_its_class_names_travel_to_the_worker_by_value(host, tmp_path, resnet10t_quiet):
    import timm
    import torch
    from safetensors.torch import save_file

    from dreamengine.run.ray_executor import _run_task

    torch.manual_seed(1)
    weights = tmp_path / "epoch4.safetensors"
    save_file(timm.create_model("resnet10t", num_classes=3).state_dict(), weights)
    names = tmp_path / "names"  # a dataset folder of class folders names the classes
    for name in ("cat", "dog", "owl"):
        (names / name).mkdir(parents=True)
    base = apply_preset(host, RunConfig(), "report").updated(
        {"size": 16, "device": "cpu", "model": "resnet10t", "class_names": str(names)}, "test"
    )
    rows = find_checkpoints([str(weights)], model="resnet10t")
    plan = plan_study(base, rows, [1], ["owl"], ["logit"], ["0.5"], [0], tmp_path / "study", host)
    ((task, cells),) = plan.tasks.items()
    expected = render_task(host, cells)[0][0].png
    data = weights.read_bytes()
    work = pickle.loads(pickle.dumps(StudyWork(host, plan.tasks)))  # as a worker gets it: names read by the driver
    weights.rename(tmp_path / "elsewhere.safetensors")
    for name in ("cat", "dog", "owl"):
        (names / name).rmdir()
    (output,) = _run_task(work, task, [(str(weights), _copy_name(data, weights))], 1, data)
    assert output.png == expected  # the same dream, and the settings stored keep the driver's paths
    assert b"epoch4.safetensors" in output.png and str(names).encode() in output.png
