"""Images in and out: tensors <-> PIL, the report's raw | rescaled layout, PNG manifests, animations."""

from __future__ import annotations

import errno
import io
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from dreamengine.errors import DreamError

__all__ = [
    "SHEET_KEY",
    "open_image",
    "load_image",
    "fit_image",
    "as_rgb",
    "to_tensor",
    "to_pil",
    "stretch",
    "side_by_side",
    "attribution_picture",
    "ATTRIBUTION_PERCENTILE",
    "ATTRIBUTION_KEY",
    "png_bytes",
    "save_png",
    "read_manifest",
    "picture_manifest",
    "save_animation",
    "write_atomic",
    "MANIFEST_KEY",
]

#: the PNG text chunk that holds a dream's run manifest (JSON).
MANIFEST_KEY = "dreamengine"
#: The key of a study's contact sheet's own settings: it is not a dream, and ``evaluate`` and ``info`` say so.
SHEET_KEY = "study_sheet"
#: where an animation holds it, by format: a GIF's comment, a WebP's XMP metadata.
_ANIMATION_FIELD = {"GIF": "comment", "WEBP": "xmp"}


_T = TypeVar("_T")


def _responsive(work: Callable[[], _T]) -> _T:
    """``work()``, run in a helper thread while the main thread waits for it: Pillow's long C calls (decoding or
    resizing a large photo) hold Ctrl-C off until they return, a wait does not. Off the main thread, which
    Ctrl-C never reaches, ``work()`` runs where it is."""
    if threading.current_thread() is not threading.main_thread():
        return work()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the waiting thread, which raises it
            outcome["error"] = error

    helper = threading.Thread(target=run, name="dreamengine-image", daemon=True)
    helper.start()
    helper.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file as it is (metadata kept), with a clear error for a missing or unreadable file; Ctrl-C
    stops a long read at once. The caller closes it (``with open_image(path) as picture``)."""
    path = Path(path)
    if path.is_dir():
        raise DreamError(f"{str(path)!r} is a folder, not an image file: name a picture in it.")
    if not path.exists():
        raise DreamError(f"image file {str(path)!r} does not exist.")
    if not path.is_file():
        raise DreamError(f"{str(path)!r} is not a regular file, so not an image file.")
    return _responsive(lambda: _read(path))


def _read(path: Path) -> Image.Image:
    picture = None
    try:
        picture = Image.open(path)
        picture.load()
        return picture
    except BaseException as error:
        if picture is not None:
            picture.close()
        problem = _unreadable(path, error)
        if problem is None:
            raise
        raise problem from None


def _unreadable(path: Path, error: BaseException) -> DreamError | None:
    """The one-line error for a file Pillow cannot read; ``None`` for anything else (Ctrl-C)."""
    if isinstance(error, Image.DecompressionBombError):
        return DreamError(f"{str(path)!r} is too large to read safely ({error}).")
    if isinstance(error, (UnidentifiedImageError, OSError, SyntaxError, ValueError)):
        return DreamError(f"{str(path)!r} is not a readable image ({error}).")
    return None


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file as RGB (see :func:`as_rgb`), with a clear error for a missing or unreadable file; the
    file is closed (an animation's too) and Ctrl-C stops a long read at once."""
    with open_image(path) as picture:
        return _responsive(lambda: as_rgb(picture))


def fit_image(picture: Image.Image, width: int, height: int) -> torch.Tensor:
    """``picture`` cropped about its centre to the shape of ``width`` x ``height`` and resized to it (bicubic),
    as a ``(3, height, width)`` image in [0, 1]; Ctrl-C stops a long resize at once."""
    return _responsive(lambda: to_tensor(ImageOps.fit(picture, (width, height), method=Image.Resampling.BICUBIC)))


def as_rgb(picture: Image.Image) -> Image.Image:
    """``picture`` as 8-bit RGB, as it looks: turned upright as its EXIF orientation says (a phone's
    portrait photo), 16-bit grayscale scaled to 8 bits (Pillow would clip it to white), and transparent
    pixels shown over white (instead of whatever colour they hide)."""
    picture = ImageOps.exif_transpose(picture)
    if picture.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        levels = np.asarray(picture, dtype=np.float64) / 257  # 0..65535 -> 0..255
        picture = Image.fromarray(levels.round().clip(0, 255).astype(np.uint8), "L")
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info:
        picture = Image.alpha_composite(Image.new("RGBA", picture.size, "white"), picture.convert("RGBA"))
    return picture.convert("RGB")


def to_tensor(picture: Image.Image) -> torch.Tensor:
    """Convert an RGB picture to a ``(3, H, W)`` float32 image in [0, 1]: the inverse of :func:`to_pil`."""
    return torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255).permute(2, 0, 1)


def to_pil(image: torch.Tensor) -> Image.Image:
    """Convert one ``(3, H, W)`` image in [0, 1] to an 8-bit RGB picture (values outside are clipped)."""
    array = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(array), "RGB")


def stretch(image: torch.Tensor, low: float = 0.5, high: float = 99.5) -> torch.Tensor:
    """Rescale ``image`` so its ``low``..``high`` percentiles span [0, 1] (robust to outliers).

    Makes even tiny changes from a flat start visible; a perfectly flat image
    stays as it is.
    """
    values = image.detach().float().flatten()
    lo, hi = torch.quantile(values, torch.tensor([low / 100, high / 100]))
    if hi - lo < 1e-8:
        return image.clone()
    return ((image - lo) / (hi - lo)).clamp(0, 1)


#: Pixels of white between the two halves of a side-by-side picture.
SIDE_BY_SIDE_GAP = 4


def side_by_side(image: torch.Tensor, gap: int = SIDE_BY_SIDE_GAP) -> Image.Image:
    """The report's layout: the raw dream on the left, the stretched one on the right."""
    raw, rescaled = to_pil(image), to_pil(stretch(image))
    canvas = Image.new("RGB", (raw.width * 2 + gap, raw.height), "white")
    canvas.paste(raw, (0, 0))
    canvas.paste(rescaled, (raw.width + gap, 0))
    return canvas


#: Attribution at or above this percentile of a map is opaque in :func:`attribution_picture` (Horama's ``plot_maco``).
ATTRIBUTION_PERCENTILE = 80
#: The key that marks an attribution map's manifest (beside the dream's own settings), so that no command takes
#: it for the dream.
ATTRIBUTION_KEY = "attribution"


def attribution_picture(image: torch.Tensor, attribution: torch.Tensor) -> Image.Image:
    """The dream ``(3, H, W)`` with MACO's attribution map ``(1, H, W)`` as its alpha channel, as Horama shows it:
    the map clipped at its :data:`ATTRIBUTION_PERCENTILE`-th percentile and divided by that, so that the pixels the
    objective looked at most are opaque and the rest fade in proportion (a map without attribution, all zeros
    or not finite, stays opaque: nothing is known to fade)."""
    alpha = attribution.detach().float().nan_to_num(0.0, posinf=0.0, neginf=0.0).clamp(min=0)
    ceiling = torch.quantile(alpha.flatten(), ATTRIBUTION_PERCENTILE / 100)
    alpha = (alpha / ceiling).clamp(max=1) if ceiling > 0 else torch.ones_like(alpha)
    picture = to_pil(image).convert("RGBA")
    picture.putalpha(Image.fromarray((alpha[0] * 255).round().to(torch.uint8).numpy(), mode="L"))
    return picture


def png_bytes(picture: Image.Image, manifest: Mapping[str, Any]) -> bytes:
    """``picture`` encoded as PNG, with ``manifest`` as JSON in its metadata."""
    info = PngImagePlugin.PngInfo()
    info.add_text(MANIFEST_KEY, json.dumps(manifest, sort_keys=True))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def save_png(picture: Image.Image, path: str | os.PathLike, manifest: Mapping[str, Any]) -> Path:
    """Write ``picture`` to ``path`` atomically, with ``manifest`` as JSON in its metadata."""
    data = png_bytes(picture, manifest)
    return write_atomic(Path(path), lambda f: f.write(data))


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Return the run manifest stored in a dream PNG (or in its animation)."""
    with open_image(path) as picture:
        text = getattr(picture, "text", {}).get(MANIFEST_KEY)
        manifest = _animation_manifest(picture) if text is None else None
    if text is not None:
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise DreamError(f"the settings stored in {str(path)!r} are corrupt ({error}).") from None
    if manifest is not None:
        return manifest
    dream = Path(path).with_suffix(".png")
    if Path(path).suffix.lower() in (".gif", ".webp") and dream.is_file():
        raise DreamError(
            f"{str(path)!r} is an animation, which carries no dreamengine settings; its dream's are in {str(dream)!r}."
        )
    raise DreamError(f"{str(path)!r} carries no dreamengine settings (was it made by dreamengine run?).")


def picture_manifest(picture: Image.Image) -> dict[str, Any]:
    """The manifest an open picture carries, a dream's PNG or its animation; empty for any other picture, and
    for settings that are not readable (:func:`read_manifest` says why)."""
    try:
        manifest = json.loads(getattr(picture, "text", {})[MANIFEST_KEY])
    except (KeyError, ValueError):
        manifest = _animation_manifest(picture)
    return manifest if isinstance(manifest, dict) else {}


def _animation_manifest(picture: Image.Image) -> dict[str, Any] | None:
    """The manifest an animation carries, if it is one :func:`save_animation` wrote with one."""
    raw = next((picture.info[field] for field in _ANIMATION_FIELD.values() if picture.info.get(field)), None)
    try:
        wrapped = json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError):  # a comment of someone else's
        return None
    manifest = wrapped.get(MANIFEST_KEY) if isinstance(wrapped, dict) else None
    return manifest if isinstance(manifest, dict) else None


def save_animation(
    frames: Sequence[torch.Tensor],
    path: str | os.PathLike,
    manifest: Mapping[str, Any] | None = None,
    *,
    duration_ms: int = 80,
) -> Path:
    """Write frames (each ``(3, H, W)``) as an animated GIF or WebP, chosen by the suffix; a ``manifest`` goes
    in as JSON (``{"dreamengine": manifest}``: a GIF's comment, a WebP's XMP), where :func:`read_manifest`
    finds it."""
    path = Path(path)
    pictures = [to_pil(frame) for frame in frames]
    fmt = {".gif": "GIF", ".webp": "WEBP"}.get(path.suffix.lower())
    if fmt is None:
        raise DreamError(f"animations are written as .gif or .webp, not {path.suffix!r}.")
    extra: dict[str, Any] = {"lossless": True} if fmt == "WEBP" else {}
    if manifest is not None:
        extra[_ANIMATION_FIELD[fmt]] = json.dumps({MANIFEST_KEY: manifest}, sort_keys=True).encode()
    return write_atomic(
        path,
        lambda f: pictures[0].save(
            f, format=fmt, save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0, **extra
        ),
    )


def write_atomic(path: Path, write, *, replace: bool = True) -> Path:
    """Write a file through ``write(handle)`` into a temporary sibling, then move it into place.

    A reader never sees a half-written file, and an interrupted write leaves
    the old file (if any) as it was. The file gets the permissions of any new
    file (``0o666`` less the umask), not the temporary file's owner-only ones.
    With ``replace=False`` the file takes ``path`` only while nothing is there:
    if another process's file got there first, that file is kept and
    :class:`FileExistsError` is raised. Other errors become one-line
    :class:`DreamError`.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise DreamError(f"cannot write {str(path)!r}: {error.strerror or error}.") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o666 & ~_umask())
        (os.replace if replace else _move_if_free)(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, FileExistsError):
            raise DreamError(f"cannot write {str(path)!r}: {error.strerror or error}.") from None
        raise
    return path


def _move_if_free(source: str, path: Path) -> None:
    """Move ``source`` to ``path`` unless something is there (:class:`FileExistsError`), in one step: a hard
    link cannot replace a file. On a file system without hard links, the check and the move are two steps."""
    try:
        os.link(source, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network and FAT file systems)
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(source, path)
    else:
        os.unlink(source)


def _umask() -> int:
    """This process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
