"""`dreamengine atlas --executor ray`: a batch dreamt by a Ray worker from shipped bytes is the local batch, byte
for byte; a Ray started here dreams a whole atlas with the same bytes as this process; and `dreamengine atlas
--address` on a two-node cluster on 127.0.0.1, one of its workers killed mid-batch, makes the same folder as a
local run, and resumes with nothing to do."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from dreamengine.atlas.plan import plan_atlas
from dreamengine.atlas.runner import open_folder, pending_units, run_atlas
from dreamengine.atlas.units import dream_batch
from dreamengine.atlas.work import AtlasWork
from dreamengine.run.config import RunConfig
from dreamengine.run.owned import LIST_NAME
from dreamengine.run.prepare import load_model

ray = pytest.importorskip("ray", reason="the Ray executor's tests need Ray: pip install -e '.[test]'")

from dreamengine.run.ray_executor import _run_task  # noqa: E402  (only usable with Ray)
from ray_cluster import LOOPBACK, WorkerKiller, listening_on, our_processes, two_node_cluster  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread", "resnet10t_quiet")


#: The atlas of these tests: two units of two layers of a checkpoint, at 16 pixels, 3 steps, in batches of 2.
PLAN = {"size": 16, "steps": 3, "layers": ["layer1", "logits"], "units": "2", "batch": 2}

#: The same atlas dreamt with a Ray started in a child process (argv: checkpoint, folder). A Ray that this test
#: process joined and left would stay half-known to it, and a later test that joins a Ray cluster of its own
#: (test_study_ray's killed worker) would find its objects' owner gone.
RAY_HERE = """
import json, sys, warnings
from pathlib import Path
import torch
from dreamengine.atlas.plan import plan_atlas
from dreamengine.run.ray_executor import RayExecutor
from dreamengine.atlas.runner import open_folder, pending_units, run_atlas
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import load_model
warnings.filterwarnings("ignore", message=".*random weights.*")
torch.set_num_threads(1)
host, settings = load_plugins(entry_points=False, blocked=(), trace=False), json.loads(sys.argv[3])
size, steps = settings.pop("size"), settings.pop("steps")
base = RunConfig(checkpoint=sys.argv[1], size=size, steps=steps, strategy=[], device="cpu")
plan = open_folder(plan_atlas(load_model(host, base), base, Path(sys.argv[2]), **settings))
print(run_atlas(host, plan, plan.batches(pending_units(plan)), RayExecutor(workers=1)))
"""


def _plan(host, checkpoint: Path, output: Path):
    settings = dict(PLAN)
    base = RunConfig(checkpoint=str(checkpoint), size=settings.pop("size"), steps=settings.pop("steps"))
    base = base.updated({"strategy": [], "device": "cpu"}, "the test")
    return plan_atlas(load_model(host, base), base, output, **settings)


def test_a_worker_dreams_a_batch_from_the_shipped_checkpoint_not_the_drivers_file(host, checkpoints, tmp_path):
    checkpoint = checkpoints / "epoch-001.pt"
    plan = _plan(host, checkpoint, tmp_path / "atlas")
    batch = plan.batches({"layer1": [0, 1]})[0]
    expected = dream_batch(host, plan, batch, load_model(host, plan.base))
    data = checkpoint.read_bytes()
    moved = tmp_path / "elsewhere.pt"
    checkpoint.rename(moved)  # as on a machine without the driver's files
    try:
        work = pickle.loads(pickle.dumps(AtlasWork(host, plan)))  # as a worker gets it: its own plugin host
        output = _run_task(work, batch, [(str(checkpoint), f"{hashlib.sha256(data).hexdigest()}.pt")], 1, data)
    finally:
        moved.rename(checkpoint)
    assert output.units.pngs == expected.units.pngs  # the same dreams, the settings stored naming the driver's file
    assert output.thumbs == expected.thumbs and output.activations == expected.activations


def test_a_worker_dreams_a_batch_of_a_weights_file_with_the_drivers_class_names(host, tmp_path, resnet10t_quiet):
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(2)
    weights = tmp_path / "birds.safetensors"
    save_file(timm.create_model("resnet10t", num_classes=3).state_dict(), weights)
    names = tmp_path / "dataset"  # its class folders name the classes
    for name in ("cat", "dog", "owl"):
        (names / name).mkdir(parents=True)
    base = RunConfig(model="resnet10t", weights=str(weights), class_names=str(names), steps=3, device="cpu")
    model = load_model(host, base)
    plan = plan_atlas(model, base, tmp_path / "atlas", layers=["logits"], units="2", batch=2)
    batch = plan.batches({"logits": [0, 1]})[0]
    expected = dream_batch(host, plan, batch, model)
    data = weights.read_bytes()
    work = pickle.loads(pickle.dumps(AtlasWork(host, plan)))  # as a worker gets it: the names read by the driver
    weights.rename(tmp_path / "elsewhere.safetensors")  # as on a machine without the driver's files
    for name in ("cat", "dog", "owl"):
        (names / name).rmdir()
    output = _run_task(work, batch, [(str(weights), f"{hashlib.sha256(data).hexdigest()}.safetensors")], 1, data)
    assert output.units.pngs == expected.units.pngs  # the same dreams, the settings naming the driver's files
    assert b"birds.safetensors" in output.units.pngs[0] and b'"cat"' in output.units.pngs[0]


def test_a_ray_started_here_makes_the_same_atlas_as_this_process(host, checkpoints, tmp_path):
    checkpoint = checkpoints / "epoch-001.pt"
    plan = open_folder(_plan(host, checkpoint, tmp_path / "local"))
    assert run_atlas(host, plan, plan.batches(pending_units(plan))) == 4
    child = subprocess.run(
        [sys.executable, "-c", RAY_HERE, str(checkpoint), str(tmp_path / "ray"), json.dumps(PLAN)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0 and child.stdout.split()[-1] == "4", child.stderr[-3000:]
    made = [_contents(folder) for folder in (tmp_path / "local", tmp_path / "ray")]
    assert made[0].keys() == made[1].keys() and len(made[0]) == 14  # atlas.json, 4 dreams, thumbs, records; the list
    assert made[0] == made[1]


#: the batch task's process title while a Ray worker runs it
TASK_TITLE = b"ray::_run_task"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A two-node Ray cluster on 127.0.0.1 for this module's tests: its address and marker. This process never
    joins it (the atlas commands run in child processes): see :data:`RAY_HERE`."""
    with two_node_cluster(tmp_path_factory.mktemp("ray")) as found:
        yield found


def _atlas_command(checkpoint: Path, output: Path, *executor: str) -> str:
    """Run ``dreamengine atlas`` of :data:`PLAN` in a child process, as a user would; returns its output."""
    settings = ["--size", "16", "--steps", "3", "--strategy", "none", "--device", "cpu", "--threads", "1"]
    units = ["--layer", "layer1", "--layer", "logits", "--units", "2", "--batch", "2"]
    command = [sys.executable, "-m", "dreamengine", "atlas", "--checkpoint", str(checkpoint), *settings, *units]
    environment = {**os.environ, "DREAMENGINE_NO_ENTRYPOINTS": "1", "COLUMNS": "200"}
    child = subprocess.run(
        [*command, "--output", str(output), *executor], capture_output=True, text=True, timeout=600, env=environment
    )
    assert child.returncode == 0, (child.stdout + child.stderr)[-3000:]
    return child.stdout


def _contents(folder: Path) -> dict[Path, bytes]:
    """Each file's bytes; the list of written files as a set (in the order the batches came back)."""
    files = {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    listed = Path(LIST_NAME)
    files[listed] = b"\n".join(sorted(files[listed].splitlines()))
    return files


def test_an_atlas_on_a_two_node_cluster_survives_a_killed_worker_and_equals_the_local_one(
    checkpoints, cluster, tmp_path
):
    address, marker = cluster
    checkpoint = checkpoints / "epoch-001.pt"
    assert "4 dreamt now" in _atlas_command(checkpoint, tmp_path / "local")
    killer = WorkerKiller(marker, TASK_TITLE)
    killer.start()
    try:
        said = _atlas_command(checkpoint, tmp_path / "ray", "--executor", "ray", "--address", address)
    finally:
        killer.stop.set()
    assert killer.killed is not None, "no worker was seen dreaming a batch"
    assert "4 dreamt now" in said
    assert LOOPBACK >= listening_on(our_processes(marker)) != set()  # nothing listens beyond this machine
    local, remote = _contents(tmp_path / "local"), _contents(tmp_path / "ray")
    assert remote.keys() == local.keys() and len([path for path in remote if path.suffix == ".png"]) == 4
    assert remote == local  # the dreams, thumbnails, records, atlas.json and the site, byte for byte
    stamps = {path: path.stat().st_mtime_ns for path in (tmp_path / "ray").rglob("*.png")}
    again = _atlas_command(checkpoint, tmp_path / "ray", "--executor", "ray", "--address", address)
    assert "0 dreamt now, 4 done before" in again
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "ray").rglob("*.png")} == stamps
