"""Reading pictures as they look (16-bit grayscale, transparency, EXIF, huge files), converting, writing."""

import os
import stat

import numpy as np
import pytest
import torch
from PIL import Image

from dreamengine import DreamError
from dreamengine.run.imaging import load_image, to_pil, to_tensor, write_atomic
from dreamengine.training.imagefolder import load_images


def pixel(path):
    return tuple(int(v) for v in np.asarray(load_image(path))[0, 0])


def test_16_bit_grayscale_is_scaled_to_8_bits_not_clipped_to_white(tmp_path):
    Image.fromarray(np.full((4, 4), 3000, dtype=np.uint16)).save(tmp_path / "dark.png")
    assert Image.open(tmp_path / "dark.png").mode.startswith("I")
    assert pixel(tmp_path / "dark.png") == (12, 12, 12)  # 3000 / 65535 of full scale


def test_transparent_pixels_show_over_white(tmp_path):
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("RGBA", (4, 4), (255, 0, 0, 128)).save(tmp_path / "half.png")
    Image.new("RGBA", (4, 4), (0, 0, 255, 255)).save(tmp_path / "solid.png")
    assert pixel(tmp_path / "clear.png") == (255, 255, 255)
    assert pixel(tmp_path / "half.png") == (255, 127, 127)
    assert pixel(tmp_path / "solid.png") == (0, 0, 255)


def test_training_images_are_read_the_same_way(tmp_path):
    Image.new("LA", (4, 4), (0, 0)).save(tmp_path / "clear.png")
    loaded = load_images([(tmp_path / "clear.png", 0)], size=4)
    assert loaded.images[0, :, 0, 0].tolist() == [255, 255, 255]


def test_a_photo_is_turned_upright_as_its_exif_orientation_says(tmp_path):
    picture = Image.new("RGB", (8, 4), "blue")
    picture.paste((255, 0, 0), (0, 0, 2, 4))  # a red left edge, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    picture.save(tmp_path / "portrait.jpg", exif=exif, quality=100)
    upright = np.asarray(load_image(tmp_path / "portrait.jpg"))
    assert upright.shape == (8, 4, 3)  # portrait, as a viewer shows it
    assert upright[0, 1, 0] > 200 and upright[-1, 1, 0] < 50  # the red edge is now on top


def test_a_decompression_bomb_is_refused_in_one_line_and_skipped_in_training(tmp_path, monkeypatch):
    Image.new("RGB", (20, 20)).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 400 pixels is then over Pillow's hard limit (2x)
    with pytest.raises(DreamError, match="'.*huge.png' is too large to read safely"):
        load_image(tmp_path / "huge.png")
    assert load_images([(tmp_path / "huge.png", 0)], size=4).skipped == [tmp_path / "huge.png"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_written_in_place_get_the_permissions_of_any_new_file(tmp_path, umask):
    """Not the owner-only mode of the temporary file they are written through (a shared gallery stays readable)."""
    before = os.umask(umask)
    try:
        path = write_atomic(tmp_path / "index.html", lambda handle: handle.write(b"<html>"))
    finally:
        os.umask(before)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert path.read_bytes() == b"<html>" and [p.name for p in tmp_path.iterdir()] == ["index.html"]


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_file_written_only_where_none_is_keeps_the_file_there_and_leaves_no_temporary(
    tmp_path, monkeypatch, hard_links
):
    if not hard_links:  # a file system without them (some network and FAT ones)
        monkeypatch.setattr(os, "link", lambda *args: (_ for _ in ()).throw(PermissionError("no hard links")))
    path = write_atomic(tmp_path / "dream.png", lambda handle: handle.write(b"first"), replace=False)
    assert path.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        write_atomic(path, lambda handle: handle.write(b"second"), replace=False)
    assert path.read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == ["dream.png"]
    write_atomic(path, lambda handle: handle.write(b"third"))  # replace=True, the default
    assert path.read_bytes() == b"third" and [p.name for p in tmp_path.iterdir()] == ["dream.png"]


def test_to_tensor_is_the_inverse_of_to_pil():
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    picture = Image.fromarray(pixels, "RGB")
    image = to_tensor(picture)
    assert image.shape == (3, 5, 7) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    assert np.array_equal(np.asarray(to_pil(image)), pixels)
