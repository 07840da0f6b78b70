"""A small atlas folder, as the atlas command writes it, with hostile names: for the site's tests.

It holds what the spec's three writers leave there: ``atlas.json``, the unit records with their dreams, variants
and thumbnails, ``examples.json`` with crops, and ``classes.json``. A layer is named with quotes and its slug holds
characters a URL must encode; a class is named like a script injection.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

HOSTILE_CLASS = "</script><img src=x onerror=alert(1)>"
QUOTED_LAYER = 'blocks."3"\'s'
QUOTED_SLUG = "blocks 3 #%'s"
CLASSES = ["tench", HOSTILE_CLASS, "a/b & <c>"]
#: the units of the feature layer with a record (unit 3 is not dreamt yet)
DREAMT = (0, 1, 2)


def _picture(path: Path, shade: int, size: int, kind: str = "PNG") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), (shade, 255 - shade, 90)).save(path, kind)
    return path


def _json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")


def write_atlas_folder(folder: Path, examples: bool = True, layer_name: str = QUOTED_LAYER, classes=CLASSES) -> Path:
    """Write the atlas files of a two-layer model (4 channels, then 3 classes) into ``folder``; returns it.

    ``layer_name`` names the first layer, ``classes`` the three classes.
    """
    layers = [
        {"name": layer_name, "slug": QUOTED_SLUG, "kind": "features", "shape": [4, 4, 4], "units": [0, 1, 2, 3]},
        {"name": "logits", "slug": "logits", "kind": "logits", "shape": [3], "units": [0, 1, 2]},
    ]
    plan = {"version": 1, "model": "tiny", "settings": {}, "size": [32, 32], "variants": 1, "layers": layers}
    _json(folder / "atlas.json", {**plan, "classes": list(classes), "checkpoint": None, "pretrained": False})
    found, negative = {}, {}
    for layer in layers:
        slug, units = layer["slug"], layer["units"]
        found[layer["name"]], negative[layer["name"]] = {}, {}
        for unit in units if layer["kind"] == "logits" else DREAMT:
            base = f"units/{slug}/{unit}"
            _picture(folder / f"{base}.png", 40 * unit, 32)
            _picture(folder / f"{base}-v1.png", 40 * unit + 20, 32)
            _picture(folder / f"thumbs/{slug}/{unit}.jpg", 40 * unit, 96, "JPEG")
            record = {
                "layer": layer["name"],
                "unit": unit,
                "dream": f"{base}.png",
                "thumb": f"thumbs/{slug}/{unit}.jpg",
            }
            _json(folder / f"{base}.json", {**record, "variants": [f"{base}-v1.png"], "activation": 2.0 + unit})
            crops = []
            for rank in range(2):
                crop = _picture(folder / f"examples/{slug}/{unit}-{rank}.jpg", 100 + 50 * rank, 16, "JPEG")
                box = [0, 8, 16, 24] if layer["kind"] == "features" else None
                peak = {"peak": 4.0, "y": 2, "x": 1, "box": box} if box else {}
                activation = 3.0 - rank  # unit 0's dream (2.0) falls short of its best example (3.0)
                crops.append(
                    {"image": rank, "activation": activation, "crop": crop.relative_to(folder).as_posix(), **peak}
                )
            found[layer["name"]][str(unit)] = crops
            below = _picture(folder / f"examples/{slug}/{unit}-neg0.jpg", 20, 16, "JPEG")  # one image drives it below 0
            negative[layer["name"]][str(unit)] = [
                {"image": 1, "activation": -1.0, "crop": below.relative_to(folder).as_posix(), **peak}
            ]
    images = [f"{classes[1]}/001.jpg", "tench/002 #1.png"]
    if examples:
        _json(
            folder / "examples.json",
            {"version": 1, "k": 2, "source": "data", "images": images, "layers": found, "negative": negative},
        )
    links = [{"index": i, "name": name, "units": [[2 - i % 3, 0.5], [3, 0.25]]} for i, name in enumerate(classes)]
    units = {str(unit): [[1, 0.5], [0, 0.2]] for unit in range(4)}
    _json(folder / "classes.json", {"layer": layer_name, "classes": links, "units": units})
    return folder
