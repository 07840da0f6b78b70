"""The offline judges are real: EfficientNet-Lite1 and -Lite2 recognise real photographs.

The same photographs and expectations are the validation table in docs/quality.md.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dreamengine_builtins.models import efficientnet_lite

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (a test extra) holds the photographs")

#: photograph -> (class indices any of which counts, how far down the ranking one must be: 1 = top-1, 5 = top-5)
PHOTOS = {
    "chelsea": ({281, 282, 283, 284, 285}, 1),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "coffee": ({967, 968, 504}, 1),  # espresso, cup, coffee mug
    "camera": ({872}, 1),  # the cameraman's tripod
    "stereo_motorcycle": ({665, 670}, 1),  # moped, motor scooter
    "clock": ({892, 409}, 5),  # wall clock, analog clock
    "rocket": ({657, 744, 812}, 5),  # missile, projectile, space shuttle
}


def photo(name: str) -> torch.Tensor:
    array = getattr(skimage_data, name)()
    if isinstance(array, tuple):  # stereo pairs
        array = array[0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float() / 255


@pytest.mark.parametrize("name, size", [("efficientnet-lite1", 240), ("efficientnet-lite2", 260)])
def test_a_judge_recognises_real_photographs(name, size):
    model = efficientnet_lite(name).freeze()
    assert model.name == name and model.input_size == (size, size) and len(model.class_names) == 1000
    images = torch.stack(
        [
            F.interpolate(photo(p)[None], size=model.input_size, mode="bilinear", antialias=True, align_corners=False)[
                0
            ]
            for p in PHOTOS
        ]
    )
    with torch.no_grad():
        ranked = model(images).argsort(dim=-1, descending=True)
    for row, (photo_name, (classes, within)) in zip(ranked.tolist(), PHOTOS.items()):
        assert classes & set(row[:within]), (photo_name, [model.class_names[i] for i in row[:5]])
