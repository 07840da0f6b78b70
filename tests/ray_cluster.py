"""A real two-node Ray cluster on 127.0.0.1 for the executors' tests, and what they check it with.

:func:`two_node_cluster` (a test module's fixture wraps it): a head node and a second node, one CPU each,
started with Ray's own command line and killed afterwards; it yields the address and the marker that every
process of the cluster carries in its environment (:func:`our_processes` finds them by it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the Ray executor's tests need Ray: pip install -e '.[test]'")

__all__ = ["LOOPBACK", "WorkerKiller", "listening_on", "our_processes", "two_node_cluster"]

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


def our_processes(marker: bytes | None = None) -> list[int]:
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


@contextlib.contextmanager
def two_node_cluster(temp_dir: Path) -> Iterator[tuple[str, bytes]]:
    """A Ray head node and a second node, one CPU each, all on 127.0.0.1, Ray's files in ``temp_dir``; yields its
    address and marker; killed afterwards, whatever happens."""
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
                f"--temp-dir={temp_dir}",
                *common,
            ],
            env,
        )
        _ray_start([sys.executable, "-c", SECOND_NODE, "start", f"--address={address}", *common], env)
        yield address, marker.encode()
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for pid in our_processes(marker.encode()):
            os.kill(pid, signal.SIGKILL)
        if saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE")
        else:
            os.environ["RAY_AUTH_MODE"] = saved_auth


def _address(text: str) -> str:
    """An address of /proc/net/tcp or tcp6 (32-bit words in little-endian hex) as text."""
    data = b"".join(bytes.fromhex(text[i : i + 8])[::-1] for i in range(0, len(text), 8))
    return socket.inet_ntop(socket.AF_INET if len(data) == 4 else socket.AF_INET6, data)


def listening_on(pids: list[int]) -> set[str]:
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
    """Kills (SIGKILL) the first worker process of the cluster seen running a task titled ``title``
    (``ray::FUNCTION``)."""

    def __init__(self, marker: bytes, title: bytes) -> None:
        super().__init__(daemon=True)
        self.marker, self.title, self.killed, self.stop = marker, title, None, threading.Event()

    def run(self) -> None:
        while self.killed is None and not self.stop.wait(0.01):
            for pid in our_processes(self.marker):
                try:
                    running = Path(f"/proc/{pid}/cmdline").read_bytes().startswith(self.title)
                except OSError:
                    continue
                if running:
                    os.kill(pid, signal.SIGKILL)
                    self.killed = pid
                    return
