"""The atlas's dataset examples on the default model: wall time and peak memory of one streaming pass.

Every stage output (``blocks.N``) and the logits, every unit, ``k`` examples each, at the atlas size; the images
are crops and flips of scikit-image's sample photographs (JPEG, a few hundred pixels a side), or a folder given
with ``--images``. Each count runs in a child process, so its peak RSS (``ru_maxrss``) is its own: memory must not
grow with the number of images. Printed per count: the time to the end of the pass (the receptive fields, then
the forwards), the time to cut the crops and write examples.json, and the peak RSS (and what it was with the
model loaded, before the collection).

    python benchmarks/atlas_examples.py [--counts 50,200] [--size 128] [--k 8] [--batch 16] [--images DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "immunohistochemistry")


def write_photos(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` JPEGs cut from scikit-image's colour sample photographs: a random square-ish crop of 40-100 % of
    the shorter side, mirrored half the time, at most 320 px a side."""
    from skimage import data

    rng = np.random.default_rng(seed)
    photos = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in PHOTOS]
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        photo = photos[index % len(photos)]
        side = int(min(photo.size) * rng.uniform(0.4, 1.0))
        width, height = side, int(side * rng.uniform(0.75, 1.33))
        height = min(height, photo.height)
        left, top = rng.integers(0, photo.width - width + 1), rng.integers(0, photo.height - height + 1)
        picture = photo.crop((left, top, left + width, top + height))
        if rng.random() < 0.5:
            picture = ImageOps.mirror(picture)
        picture.thumbnail((320, 320))
        picture.save(folder / f"{PHOTOS[index % len(PHOTOS)]}-{index:04d}.jpg", quality=90)


def measure(images: Path, output: Path, model_name: str, size: int, k: int, batch: int) -> dict:
    """One collection in this process: its phases' times and this process's peak RSS."""
    from dreamengine.atlas.examples import collect_examples
    from dreamengine.atlas.folder import LOGITS
    from dreamengine.engine.layers import model_layers
    from dreamengine.plugins import load_plugins
    from dreamengine.run.acceleration import accelerate
    from dreamengine.run.config import RunConfig
    from dreamengine.run.prepare import load_model

    config = RunConfig(model=model_name)
    model = accelerate(load_model(load_plugins(entry_points=False), config).freeze(), config)
    stages = [layer for layer in model_layers(model, "blocks.*", levels=2) if layer.name.count(".") == 1]
    layers = [{"name": s.name, "slug": s.name, "units": list(range(s.shape[0]))} for s in stages]
    layers.append({"name": LOGITS, "slug": LOGITS, "units": list(range(model.num_classes))})
    marks: list[float] = []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = collect_examples(
        model,
        layers,
        images,
        output,
        k=k,
        batch=batch,
        size=(size, size),
        on_progress=lambda *_: marks.append(time.perf_counter()),
    )
    end = time.perf_counter()
    return {
        "images": result["count"],
        "units": sum(len(layer["units"]) for layer in layers),
        "layers": [layer["name"] for layer in layers],
        "pass_s": marks[-1] - start,
        "first_batch_s": marks[0] - start,
        "crops_s": end - marks[-1],
        "crops": sum(1 for _ in (output / "examples").rglob("*.jpg")),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "model_rss_mib": before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--counts", default="50,200", help="image counts to run, each in a child process")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--images", type=Path, help="a folder of images instead of the sample photographs")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.model, args.size, args.k, args.batch)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        for count in map(int, args.counts.split(",")):
            images = args.images or Path(scratch) / f"photos-{count}"
            if args.images is None:
                write_photos(images, count)
            command = [sys.executable, __file__, "--model", args.model, "--size", str(args.size), "--k", str(args.k)]
            command += ["--batch", str(args.batch), "--child", str(images), str(Path(scratch) / f"atlas-{count}")]
            found = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(
                f"{found['images']} images, {found['units']} units ({', '.join(found['layers'])}), "
                f"{args.size}x{args.size}, k={args.k}: pass {found['pass_s']:.1f} s (first batch, with the receptive "
                f"fields, {found['first_batch_s']:.1f} s), crops {found['crops_s']:.1f} s ({found['crops']} JPEGs), "
                f"peak RSS {found['peak_rss_mib']:.0f} MiB ({found['model_rss_mib']:.0f} MiB with the model loaded)"
            )
            if args.images is not None:
                break


if __name__ == "__main__":
    main()
