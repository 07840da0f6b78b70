"""`dreamengine study --executor ray` on a real two-node Ray cluster on 127.0.0.1, with a worker killed mid-study."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from PIL import Image

from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import read_manifest
from dreamengine.run.inputs import files_read
from dreamengine.run.prepare import apply_preset
from dreamengine.study.plan import find_checkpoints, plan_study
from dreamengine.study.render import render_task
from dreamengine.study.runner import run_study

ray = pytest.importorskip("ray", reason="the Ray executor's tests need Ray: pip install -e '.[test]'")

from dreamengine.study.ray_executor import RayExecutor  # noqa: E402  (after the skip: it is only usable with Ray)

pytestmark = pytest.mark.usefixtures("one_thread", "builtins_only_cli")

#: the dream task's process title while a Ray worker runs it
TASK_TITLE = b"ray::_dream_cells"
#: a second node on the same machine: keep Ray's loopback address as given (Ray's CLI refuses a second node
#: when cluster mode is off, which is how the head and every other process stay on 127.0.0.1)
SECOND_NODE = (
    "import ray._private.ray_constants as c, ray._private.services as s; c.ENABLE_RAY_CLUSTER = True; "
    "s.resolve_ip_for_localhost = lambda host: host; from ray.scripts.scripts import main; main()"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _our_processes(marker: bytes | None = None) -> list[int]:
    """The processes of this test's cluster: those with its marker in their environment, and their descendants
    (Ray's agents retitle themselves over their environment); without a marker, this process and its descendants."""
    parents, ours = {}, set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
                if int(entry.name) == os.getpid() if marker is None else marker in (entry / "environ").read_bytes():
                    ours.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    while True:
        children = {pid for pid, parent in parents.items() if parent in ours} - ours
        if not children:
            return sorted(ours)
        ours |= children


def _ray_start(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        pytest.fail(f"ray start failed ({done.returncode}): {(done.stdout + done.stderr)[-3000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray head node and a second node, one CPU each, all on 127.0.0.1; killed afterwards, whatever happens."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("the Ray cluster test finds its processes through /proc (Linux)")
    marker = f"DREAMENGINE_TEST_CLUSTER={uuid.uuid4().hex}"
    # token authentication off in every process, this one too: a Ray started on this machine before (as
    # `--executor ray` without --address does) leaves ~/.ray/auth_token, which switches it on for some of them only
    saved_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        marker.split("=")[0]: marker.split("=")[1],
    }
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    try:
        _ray_start(
            [
                sys.executable,
                "-m",
                "ray.scripts.scripts",
                "start",
                "--head",
                f"--port={port}",
                "--include-dashboard=false",
                f"--temp-dir={tmp_path_factory.mktemp('ray')}",
                *common,
            ],
            env,
        )
        _ray_start([sys.executable, "-c", SECOND_NODE, "start", f"--address={address}", *common], env)
        yield address, marker.encode()
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for pid in _our_processes(marker.encode()):
            os.kill(pid, signal.SIGKILL)
        if saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE")
        else:
            os.environ["RAY_AUTH_MODE"] = saved_auth


def _address(text: str) -> str:
    """An address of /proc/net/tcp or tcp6 (32-bit words in little-endian hex) as text."""
    data = b"".join(bytes.fromhex(text[i : i + 8])[::-1] for i in range(0, len(text), 8))
    return socket.inet_ntop(socket.AF_INET if len(data) == 4 else socket.AF_INET6, data)


def _listening_on(pids: list[int]) -> set[str]:
    """The addresses that these processes' TCP sockets listen on."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes |= {link[8:-1] for link in links if link.startswith("socket:[")}
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: listening
                found.add(_address(fields[1].partition(":")[0]))
    return found


LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


class WorkerKiller(threading.Thread):
    """Kills (SIGKILL) the first worker process of the cluster seen running a dream task."""

    def __init__(self, marker: bytes) -> None:
        super().__init__(daemon=True)
        self.marker, self.killed, self.stop = marker, None, threading.Event()

    def run(self) -> None:
        while self.killed is None and not self.stop.wait(0.01):
            for pid in _our_processes(self.marker):
                try:
                    running = Path(f"/proc/{pid}/cmdline").read_bytes().startswith(TASK_TITLE)
                except OSError:
                    continue
                if running:
                    os.kill(pid, signal.SIGKILL)
                    self.killed = pid
                    return


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
    killer = WorkerKiller(marker)
    killer.start()
    try:
        assert run_study(host, remote, RayExecutor(address=address)) == 4
    finally:
        killer.stop.set()
    assert killer.killed is not None, "no worker was seen running a task"
    assert LOOPBACK >= _listening_on(_our_processes(marker)) != set()  # nothing listens beyond this machine
    assert _files(remote.output) == _files(local.output) and len(_files(remote.output)) == 2 * len(remote.cells)
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
        listening.append(_listening_on(_our_processes()))

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
    from dreamengine.study.ray_executor import _dream_cells

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
    files = [(str(path), f"sha-{path.name}") for path in (photo, mask, guide)]
    contents = [path.read_bytes() for path in (photo, mask, guide)]
    checkpoint = Path(task.checkpoint.path).read_bytes()
    expected = render_task(host, cells)[0][0].png
    for path in (photo, mask, guide):
        path.unlink()
    moved = tmp_path / "elsewhere.pt"
    Path(task.checkpoint.path).rename(moved)
    try:
        (output,) = _dream_cells((False, ()), list(cells), checkpoint, files, 1, *contents)
    finally:
        moved.rename(task.checkpoint.path)
    assert output.png == expected  # the same dream, and the settings stored keep the driver's paths


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
    from dreamengine.study.ray_executor import _result

    task = next(iter(_plan(host, checkpoints, tmp_path).tasks))
    failure = ray.exceptions.RayTaskError("_dream_cells", "Traceback ...", DreamError("the learning rate is too high"))
    with pytest.raises(DreamError, match="^the learning rate is too high$"):
        _result(FailingRay(failure), None, task)
    with pytest.raises(DreamError, match="Ray workers kept dying while dreaming red-vertical, full epoch 0"):
        _result(FailingRay(ray.exceptions.WorkerCrashedError()), None, task)


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
