"""An extra output after each run (``dreamengine_run_end``): a JSON sidecar of scores, for scripts and spreadsheets.

Beside the first file a run wrote (``dreams/flamingo.png``) it writes
``dreams/flamingo.scores.json``: every file written, each dream's final score,
the steps done and whether the run stopped early. The PNGs carry their full
settings already; the sidecar is what a script reads without opening images.
It is off unless ``DREAMENGINE_EXTRAS_SIDECAR=1``: an observer runs for every
dream of everyone who installs the plugin, so it stays quiet unless asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SWITCH", "wanted", "sidecar_path", "sidecar", "write_sidecar"]

#: The environment variable that switches the sidecar on.
SWITCH = "DREAMENGINE_EXTRAS_SIDECAR"


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the user asked for sidecars (``DREAMENGINE_EXTRAS_SIDECAR`` set to 1, yes, true or on)."""
    return environ.get(SWITCH, "").strip().lower() in {"1", "yes", "true", "on"}


def sidecar_path(paths: Sequence[Path]) -> Path:
    """Where the sidecar of a run that wrote ``paths`` goes: beside the first, ``NAME.scores.json``."""
    first = Path(paths[0])
    return first.with_name(f"{first.stem}.scores.json")


def sidecar(config: Any, result: Any, paths: Sequence[Path]) -> dict[str, Any]:
    """What the sidecar holds: the run's model and objective, the files, each dream's score and the steps done."""
    return {
        "model": config.model,
        "objective": config.objective,
        "seed": config.seed,
        "files": [str(path) for path in paths],
        "scores": [float(score) for score in result.scores.detach().cpu().flatten()],
        "steps": result.steps_done,
        "stopped_early": bool(result.interrupted or result.diverged),
    }


def write_sidecar(config: Any, result: Any, paths: Sequence[Path]) -> Path | None:
    """Write the sidecar of a run beside its files; ``None`` (nothing written) when it wrote no file."""
    if not paths:
        return None
    path = sidecar_path(paths)
    path.write_text(json.dumps(sidecar(config, result, paths), indent=2) + "\n", encoding="utf-8")
    return path
