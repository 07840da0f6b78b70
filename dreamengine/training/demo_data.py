"""An offline demo dataset whose classes a person can tell apart at a glance.

Each class pairs a colour with a pattern: blue discs, green horizontal stripes,
red vertical stripes and yellow checks, drawn over a noisy gray background of
random brightness, with random period, phase, position and strength. Each
colour is a tint, a raise of some channels above the gray, so that the colour
is the one cue a class shares with no other. :func:`signatures` measures how much
of each class's colour an image carries, so a test (or a person) can check that a
dream "bears resemblance to the training set".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dreamengine.errors import DreamError, check_options

__all__ = ["DEMO_CLASSES", "make_demo_image", "write_demo_data", "signatures", "orientation"]

#: The largest demo image: plenty for a demo set, and each image's drawing grids stay small in memory.
MAX_DEMO_SIZE = 1024

#: class name -> (tint: the RGB direction its pattern raises above the gray background, pattern name),
#: in the order a trained model numbers them (its class folders, sorted by name)
DEMO_CLASSES: dict[str, tuple[tuple[float, float, float], str]] = {
    "blue-discs": ((0.0, 0.0, 1.0), "discs"),
    "green-horizontal": ((0.0, 1.0, 0.0), "horizontal"),
    "red-vertical": ((1.0, 0.0, 0.0), "vertical"),
    "yellow-checks": ((1.0, 1.0, 0.0), "checks"),
}


def _stripes(axis: int) -> Callable[[np.random.Generator, np.ndarray, np.ndarray, int], np.ndarray]:
    def draw(rng, ys, xs, size):
        period = rng.uniform(0.12, 0.25) * size
        phase = rng.uniform(0, period)
        position = (ys if axis == 0 else xs) + phase
        return (position % period) < period / 2

    return draw


def _discs(rng, ys, xs, size):
    mask = np.zeros_like(ys, dtype=bool)
    for _ in range(rng.integers(2, 5)):
        cy, cx = rng.uniform(0.15, 0.85, 2) * size
        radius = rng.uniform(0.1, 0.2) * size
        mask |= (ys - cy) ** 2 + (xs - cx) ** 2 < radius**2
    return mask


def _checks(rng, ys, xs, size):
    cell = rng.uniform(0.12, 0.25) * size
    oy, ox = rng.uniform(0, cell, 2)
    return ((np.floor((ys + oy) / cell) + np.floor((xs + ox) / cell)) % 2).astype(bool)


_PATTERNS = {"vertical": _stripes(1), "horizontal": _stripes(0), "discs": _discs, "checks": _checks}


def make_demo_image(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one ``(size, size, 3)`` uint8 image of demo class ``name``."""
    tint, pattern = DEMO_CLASSES[name]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    mask = _PATTERNS[pattern](rng, ys, xs, size)[..., None]
    gray = rng.uniform(0.25, 0.5) + rng.normal(0, 0.04, (size, size, 1))
    image = gray + mask * rng.uniform(0.35, 0.5) * np.array(tint) + rng.normal(0, 0.02, (size, size, 3))
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def write_demo_data(
    root: str | Path, *, per_class: int = 60, val_fraction: float = 0.2, size: int = 64, seed: int = 0
) -> dict[str, int]:
    """Write ``root/train/<class>/*.png`` and ``root/val/<class>/*.png``; returns images per split."""
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DreamError(f"{str(root)!r} exists and is not an empty folder; choose a new folder for the demo data.")
    check_options(
        ("--per-class", per_class, per_class >= 2, "at least 2"),
        ("--val-fraction", val_fraction, 0 < val_fraction < 1, "above 0 and below 1"),
        ("--size", size, 8 <= size <= MAX_DEMO_SIZE, f"8 to {MAX_DEMO_SIZE}"),
    )
    rng = np.random.default_rng(seed)
    val_count = max(1, round(per_class * val_fraction))
    counts = {"train": 0, "val": 0}
    for name in DEMO_CLASSES:
        for index in range(per_class):
            split = "val" if index < val_count else "train"
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(make_demo_image(name, size, rng), "RGB").save(folder / f"{index:04d}.png")
            counts[split] += 1
    return counts


def signatures(image: torch.Tensor) -> torch.Tensor:
    """How much of each demo class's tint an image ``(3, H, W)`` carries, one value per class.

    The image's mean colour minus its gray level, compared (cosine) with each
    class tint minus its gray level: 1 means "exactly that hue", values near 0
    or below mean "none of it".
    """
    shift = image.float().flatten(1).mean(1)
    shift = shift - shift.mean()
    colours = torch.tensor([colour for colour, _ in DEMO_CLASSES.values()])
    colours = colours - colours.mean(1, keepdim=True)
    return torch.nn.functional.cosine_similarity(shift[None], colours, dim=1)


def orientation(image: torch.Tensor) -> float:
    """Vertical-stripe energy minus horizontal-stripe energy, in [-1, 1].

    Vertical stripes change along x (large horizontal differences), so they
    score near +1; horizontal stripes score near -1; isotropic texture near 0.
    """
    gray = image.float().mean(0)
    along_x = (gray[:, 1:] - gray[:, :-1]).pow(2).mean()
    along_y = (gray[1:] - gray[:-1]).pow(2).mean()
    total = along_x + along_y
    return 0.0 if total < 1e-12 else float((along_x - along_y) / total)
