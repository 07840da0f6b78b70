"""`dreamengine atlas --executor ray`: a batch dreamt by a Ray worker from shipped bytes is the local batch, byte
for byte; and a Ray started here dreams a whole atlas with the same bytes as this process."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dreamengine.atlas.plan import plan_atlas
from dreamengine.atlas.runner import LocalAtlasExecutor, open_folder, pending_units, run_atlas
from dreamengine.atlas.units import dream_batch
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import load_model

ray = pytest.importorskip("ray", reason="the Ray executor's tests need Ray: pip install -e '.[test]'")

from dreamengine.atlas.ray_executor import RayAtlasExecutor, _dream_batch  # noqa: E402  (only usable with Ray)

pytestmark = pytest.mark.usefixtures("one_thread", "resnet10t_quiet")


def _plan(host, checkpoint: Path, output: Path):
    base = RunConfig(checkpoint=str(checkpoint), size=16, steps=3, strategy=[], device="cpu")
    return plan_atlas(load_model(host, base), base, output, layers=["layer1", "logits"], units="2", batch=2)


def test_a_worker_dreams_a_batch_from_the_shipped_checkpoint_not_the_drivers_file(host, checkpoints, tmp_path):
    checkpoint = checkpoints / "epoch-001.pt"
    plan = _plan(host, checkpoint, tmp_path / "atlas")
    batch = plan.batches({"layer1": [0, 1]})[0]
    expected = dream_batch(host, plan, batch, load_model(host, plan.base))
    data = checkpoint.read_bytes()
    moved = tmp_path / "elsewhere.pt"
    checkpoint.rename(moved)  # as on a machine without the driver's files
    try:
        output = _dream_batch(
            (False, ()), plan, batch, [(str(checkpoint), f"{hashlib.sha256(data).hexdigest()}.pt")], 1, data
        )
    finally:
        moved.rename(checkpoint)
    assert output.units.pngs == expected.units.pngs  # the same dreams, the settings stored naming the driver's file
    assert output.thumbs == expected.thumbs and output.activations == expected.activations


def test_a_ray_started_here_makes_the_same_atlas_as_this_process(host, checkpoints, tmp_path):
    checkpoint = checkpoints / "epoch-001.pt"
    made = []
    for name, executor in (("local", LocalAtlasExecutor()), ("ray", RayAtlasExecutor(workers=1))):
        plan = open_folder(_plan(host, checkpoint, tmp_path / name))
        assert run_atlas(host, plan, plan.batches(pending_units(plan)), executor) == 4
        made.append({path.relative_to(plan.output): path.read_bytes() for path in plan.output.rglob("*.*")})
    assert made[0].keys() == made[1].keys() and len(made[0]) == 13  # atlas.json, 4 dreams, thumbs and records
    assert made[0] == made[1]
