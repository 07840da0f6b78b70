"""examples/reproduce_report.py runs end to end (at a toy scale) and writes the page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "reproduce_report.py"


def test_the_report_script_trains_both_runs_and_writes_the_study(tmp_path):
    args = [
        sys.executable,
        str(SCRIPT),
        "--output",
        str(tmp_path / "out"),
        "--model",
        "test_resnet",
        "--size",
        "16",
        "--epochs",
        "1",
        "--study-epochs",
        "0,1",
        "--steps",
        "2,4",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DREAMENGINE_NO_ENTRYPOINTS": "1"}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / "out"
    assert (out / "full" / "epoch-001.pt").exists() and (out / "fc-only" / "epoch-001.pt").exists()
    assert len(list((out / "study" / "sheets").glob("*.png"))) == 2 * 4 * 2 * 2
    assert "fc-only" in (out / "study" / "index.html").read_text()
    assert "own-colour signature" in result.stdout and "open " in result.stdout
