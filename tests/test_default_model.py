"""The embedded default model is real: it must recognise a real photograph.

This is the proof that the lukemelas-style weights are mapped onto timm's
tf_efficientnet_lite0 correctly (a wrong mapping gives noise, not a cat).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dreamengine_builtins.models import efficientnet_lite

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (a test extra) holds the photograph")


@pytest.fixture(scope="module")
def model():
    return efficientnet_lite("efficientnet-lite0").freeze()


def classify(model, photo):
    image = torch.from_numpy(photo).permute(2, 0, 1).float()[None] / 255
    image = F.interpolate(image, size=model.input_size, mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        return model(image).softmax(-1)[0]


def test_the_default_model_sees_a_cat_in_a_cat_photo(model):
    probabilities = classify(model, skimage_data.chelsea())
    top5 = [model.class_names[i] for i in probabilities.topk(5).indices]
    assert any("cat" in name for name in top5[:1]), top5
    cats = [i for i, name in enumerate(model.class_names) if name.split(",")[0].endswith("cat")]
    assert float(probabilities[cats].sum()) > 0.8


def test_the_default_model_has_its_config(model):
    assert model.name == "efficientnet-lite0" and model.input_size == (224, 224)
    assert model.mean.flatten().tolist() == [0.5, 0.5, 0.5] == model.std.flatten().tolist()
    assert len(model.class_names) == 1000 and model.class_names[130] == "flamingo"


def test_the_default_model_folds_every_batch_norm_and_still_sees_the_cat(model):
    from dreamengine.engine.folding import NormRemainder

    before = classify(model, skimage_data.chelsea())
    try:
        model.fold_norms()
        folded = [name for name, module in model.net.named_modules() if isinstance(module, NormRemainder)]
        assert len(folded) == 49  # every convolution of EfficientNet-Lite0 has its norm
        torch.testing.assert_close(classify(model, skimage_data.chelsea()), before, rtol=1e-3, atol=1e-5)
    finally:
        model.unfold_norms()
