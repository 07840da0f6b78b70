"""Ctrl-C at any moment: one line (or what was kept), exit 130, never a traceback, an abort, a lost interrupt or a
half-written file; and the hold that makes it so (:func:`dreamengine.interrupts.interrupts_held`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from dreamengine.interrupts import interrupts_held

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signals")


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Ctrl-C raises here as in a terminal, even where the tests run with it ignored (a shell's background job)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _as_in_a_terminal() -> None:
    """In the child, before it starts: Ctrl-C as a terminal gives it (not ignored, as a background job's is)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_ctrl_c_during_the_block_is_raised_when_it_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the interpreter would have raised by now
        reached.append("the end of the block")
    assert reached == ["the end of the block"]


def test_a_ctrl_c_another_thread_takes_during_the_block_is_raised_when_it_ends():
    import threading

    started, stop = threading.Event(), threading.Event()
    other = threading.Thread(target=lambda: (started.set(), stop.wait(5)))  # a thread that does not hold Ctrl-C
    other.start()
    started.wait()
    reached = []
    try:
        with pytest.raises(KeyboardInterrupt), interrupts_held():
            signal.pthread_kill(other.ident, signal.SIGINT)  # the signal lands in the other thread
            time.sleep(0.05)
            reached.append("the end of the block")
    finally:
        stop.set()
        other.join()
    assert reached == ["the end of the block"]


def test_a_handler_an_import_set_is_undone_and_nothing_is_held_after():
    before = signal.getsignal(signal.SIGINT)
    with interrupts_held():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    assert signal.getsignal(signal.SIGINT) is before
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)


#: moments (seconds after the start) at which Ctrl-C comes: the command line's start, torch's import, the model's
#: load, the first steps, dreaming and writing, spread over the run (which alone would take minutes)
MOMENTS = [round(0.15 * 1.25**k, 2) for k in range(22)]


def _interrupted_run(moment: float, out: Path) -> subprocess.CompletedProcess:
    script = shutil.which("dreamengine", path=str(Path(sys.executable).parent))
    command = [script, "run", "--model", "resnet10t", "--size", "48", "--steps", "5000", "--save-every", "50"]
    child = subprocess.Popen(
        [*command, "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        preexec_fn=_as_in_a_terminal,
    )
    time.sleep(moment)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def test_ctrl_c_at_any_moment_exits_130_with_no_traceback_and_no_half_written_file(tmp_path):
    seen = []
    for moment in MOMENTS:
        out = tmp_path / f"at-{moment}"
        done = _interrupted_run(moment, out)
        said = (done.stdout + done.stderr).strip()
        seen.append((moment, done.returncode, said.splitlines()[-1:] if said else []))
        assert done.returncode == 130, seen  # not 0 (a lost interrupt), not 134 (an abort), not 1
        assert "Traceback" not in said and "Error" not in said, (moment, said[-2000:])
        files = list(out.rglob("*")) if out.exists() else []
        assert not [path for path in files if path.name.endswith(".tmp")], (moment, files)
        for picture in (path for path in files if path.suffix in (".png", ".gif")):
            Image.open(picture).load()  # whole
    kept = [line for _, _, line in seen if line and line != ["Interrupted."]]
    assert kept, seen  # the later moments stopped a dream under way, and said what was kept
