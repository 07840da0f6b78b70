"""Screenshots of an atlas's pages for the docs (docs/atlas.md): its index, a layer and a unit.

Headless Chromium opens each page from ``file://`` (no server, no network) and saves what a window of the
given size shows, as a JPEG (quality 85) in the output folder: ``atlas-index.jpg``, ``atlas-layer.jpg`` and
``atlas-unit.jpg``.

    python examples/atlas_screenshots.py ATLAS [--output docs/images] [--layer NAME] [--unit N] [--size 1280x800]

The layer is the atlas's first unless named; the unit is the layer's first dreamt one unless given.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from dreamengine.atlas.contents import read_atlas

#: Chromium's flags for a quiet offline screenshot (no first-run pages, no update checks, no GPU).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=3000",  # lets lazy pictures load before the shot
]


def pages(folder: Path, layer_name: str | None, unit: int | None) -> dict[str, Path]:
    """The three pages to show, by the name of their screenshot."""
    atlas = read_atlas(folder)
    layers = [layer for layer in atlas.layers if layer_name in (None, layer.name)]
    if not layers:
        sys.exit(f"the atlas has no layer {layer_name!r}: it has {', '.join(layer.name for layer in atlas.layers)}")
    units = atlas.layer_units(layers[0])
    chosen = [u for u in units if (u.unit == unit if unit is not None else u.dream is not None)] or units
    return {
        "atlas-index": folder / "index.html",
        "atlas-layer": folder / layers[0].page,
        "atlas-unit": folder / chosen[0].page,
    }


def screenshot(chromium: str, page: Path, picture: Path, width: int, height: int) -> None:
    """Save what a ``width`` x ``height`` window shows of ``page`` as the JPEG ``picture``."""
    with tempfile.TemporaryDirectory() as profile:
        shot = Path(profile) / "shot.png"
        command = [chromium, *FLAGS, f"--user-data-dir={profile}/user", f"--window-size={width},{height}"]
        subprocess.run(
            [*command, f"--screenshot={shot}", page.resolve().as_uri()], capture_output=True, timeout=120, check=True
        )
        Image.open(shot).convert("RGB").save(picture, "JPEG", quality=85)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("atlas", type=Path, help="the atlas folder (with index.html)")
    parser.add_argument("--output", type=Path, default=Path("docs/images"))
    parser.add_argument("--layer", help="the layer whose page and unit to show (default: the first)")
    parser.add_argument("--unit", type=int, help="the unit to show (default: the layer's first dreamt one)")
    parser.add_argument("--size", default="1280x800", help="the window, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if chromium is None:
        sys.exit("the screenshots need Chromium (apt-get install chromium)")
    width, height = (int(n) for n in args.size.lower().split("x"))
    args.output.mkdir(parents=True, exist_ok=True)
    for name, page in pages(args.atlas, args.layer, args.unit).items():
        screenshot(chromium, page, args.output / f"{name}.jpg", width, height)
        print(args.output / f"{name}.jpg")


if __name__ == "__main__":
    main()
