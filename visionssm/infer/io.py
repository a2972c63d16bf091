"""Finding and reading input images for inference, with every conversion to 8-bit RGB made explicit.

How an image becomes the H x W x 3 ``uint8`` RGB array the predictors take:

* 8-bit RGB: as stored; JPEG EXIF orientation is applied (as a photo viewer shows it).
* grayscale (8-bit ``L``, 1-bit ``1``): the one channel is copied to R, G and B.
* 16-bit (``I;16*`` PNG/TIFF, also 16-bit colour read through OpenCV): linear full-range scaling
  ``v8 = round(v16 * 255 / 65535)``. No per-image contrast stretch, so two images keep their relative
  brightness; a dark 12-bit sensor image stays dark (stretch it yourself if that is wanted).
* 32-bit integer (``I``): values must lie in 0..65535 and are scaled as 16-bit; anything else is refused.
* float (``F``): values in [0, 1] are multiplied by 255; other ranges are min-max scaled to 0..255; NaN counts
  as 0. An ``inf`` pixel is refused (it would stretch every other pixel to black).
* palette (``P``), ``CMYK``, ``YCbCr``, ``LAB``: converted to RGB by Pillow.
* alpha (``RGBA``, ``LA``, ``PA``): the alpha channel is dropped (not composited).

A file that cannot be decoded (corrupt, truncated, not an image), or that Pillow decodes inconsistently (a gray
TIFF with EXIF orientation 5-8 comes back with the pixels rotated but the size not), raises :class:`ImageReadError`,
which the folder runners catch, report and skip. Broken symbolic links and links to folders are not followed;
:func:`list_images` lists them with the reason.
"""
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "ImageReadError", "list_images", "read_image", "to_rgb_uint8"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pbm")

PathLike = Union[str, os.PathLike]


class ImageReadError(OSError):
    """An input image could not be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: PathLike, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"cannot read image {path}: {reason}")


def list_images(path: PathLike, recursive: bool = True, extensions: Sequence[str] = IMAGE_EXTENSIONS,
                skipped: Optional[List[Tuple[str, str]]] = None) -> Tuple[Path, List[Path]]:
    """``(root, files)``: a single file gives its folder and itself; a folder gives every file with an image
    extension (case-insensitive) below it, sorted. ``root`` is what output names are made relative to.

    Symbolic links that are broken or point at a folder (not followed, so a link loop cannot recurse) are
    appended to ``skipped`` as ``(path, reason)`` when a list is given."""
    p = Path(path)
    if p.is_file():
        return p.parent, [p]
    if not p.is_dir():
        raise FileNotFoundError(f"input {path} is neither an image file nor a folder")
    exts = tuple(e.lower() for e in extensions)
    pattern = p.rglob("*") if recursive else p.glob("*")
    files, links = [], []
    for f in pattern:
        if f.name.startswith("."):
            continue
        wanted = f.name.lower().endswith(exts)  # name, not suffix: ".nii.gz"
        if f.is_symlink() and not f.is_file():
            if wanted or f.is_dir():
                links.append((str(f), "symbolic link to a folder, not followed; pass its target as the input"
                              if f.is_dir() else "broken symbolic link (its target does not exist)"))
        elif f.is_file() and wanted:
            files.append(f)
    if skipped is not None:
        skipped.extend(sorted(links))
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(exts)}) found under {path}"
                                + ("" if recursive else " (not searching sub-folders)")
                                + (f"; {len(links)} symbolic link(s) skipped: {links[0][0]}: {links[0][1]}"
                                   if links else ""))
    return p, sorted(files)


def to_rgb_uint8(arr: np.ndarray) -> np.ndarray:
    """Any 2-D (gray) or H x W x C array (C = 1, 3, 4; RGB order) → H x W x 3 uint8, by the rules in the module doc."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            arr = arr[..., :3]  # alpha dropped
        elif arr.shape[2] != 3:
            raise ValueError(f"{arr.shape[2]} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA)")
    elif arr.ndim != 2:
        raise ValueError(f"array of shape {arr.shape} is not an image")
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16 or (np.issubdtype(arr.dtype, np.integer) and arr.size
                                    and int(arr.min()) >= 0 and int(arr.max()) <= 65535):
        out = np.rint(arr.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{arr.dtype} values {int(arr.min())}..{int(arr.max())} outside 0..65535; "
                         "convert the image to 8 or 16 bits first")
    elif np.issubdtype(arr.dtype, np.floating):
        n_inf = int(np.isinf(arr).sum())
        if n_inf:
            raise ValueError(f"{n_inf} infinite pixel value(s) (inf); they would scale every other pixel to 0. "
                             "Replace them (e.g. numpy.nan_to_num) and save the image again")
        a = np.nan_to_num(arr.astype(np.float32))
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0.0 and hi <= 1.0:
            a = a * 255.0
        else:
            a = (a - lo) * (255.0 / max(hi - lo, 1e-12))
        out = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"unsupported pixel type {arr.dtype}")
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    return np.ascontiguousarray(out)


_PIL_HIGH_DEPTH = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _read_with_opencv(path: Path) -> np.ndarray:
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError("OpenCV could not decode it either")
    if arr.ndim == 3:  # OpenCV stores BGR(A)
        arr = arr[..., [2, 1, 0] + ([3] if arr.shape[2] == 4 else [])] if arr.shape[2] in (3, 4) else arr
    return arr


def _colour_bit_depth(img, path: Path) -> int:
    """Bits per colour channel in the file (Pillow hands 16-bit colour PNG/TIFF over as 8-bit RGB)."""
    if img.format == "PNG":
        with open(path, "rb") as f:
            head = f.read(25)
        return head[24] if len(head) == 25 and head[:8] == b"\x89PNG\r\n\x1a\n" else 8  # IHDR bit depth
    if img.format == "TIFF":
        bits = img.tag_v2.get(258, (8,))  # BitsPerSample
        return max(bits) if isinstance(bits, tuple) else int(bits)
    return 8


def _orientation(img) -> Optional[int]:
    try:
        value = img.getexif().get(0x0112)
    except Exception:  # an unreadable EXIF block is no orientation
        return None
    return int(value) if isinstance(value, int) else None


def _check_decoded(img, orientation: Optional[int], size_before: Tuple[int, int]) -> None:
    """Pillow applies a TIFF's orientation while decoding; for gray TIFFs with orientation 5-8 it rotates the
    pixels but not the size (the image comes back scrambled): refuse instead of returning it."""
    if orientation in (None, 1):
        return
    arr_hw = np.asarray(img).shape[:2]
    if img.size != size_before or arr_hw != img.size[::-1]:
        raise ValueError(f"EXIF orientation {orientation} on a {img.mode} {img.format} image: Pillow decoded "
                         f"{img.size[0]}x{img.size[1]} pixels (array {arr_hw[1]}x{arr_hw[0]}) for a "
                         f"{size_before[0]}x{size_before[1]} image, so they would be scrambled; save the image "
                         "with the rotation applied to the pixels and no orientation tag")


def read_image(path: PathLike) -> np.ndarray:
    """Decode ``path`` into H x W x 3 uint8 RGB (conversions: module doc); raises :class:`ImageReadError`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            orientation, size_before = _orientation(img), img.size
            img.load()  # decode now: a truncated file fails here, not later
            _check_decoded(img, orientation, size_before)
            if img.mode in ("RGB", "RGBA") and _colour_bit_depth(img, path) == 16:
                return to_rgb_uint8(_read_with_opencv(path))  # Pillow would keep only the high byte of 16-bit RGB
            img = ImageOps.exif_transpose(img)
            if img.mode in _PIL_HIGH_DEPTH:
                return to_rgb_uint8(np.asarray(img))
            if img.mode == "1":
                img = img.convert("L")
            if img.mode in ("L", "RGB"):
                return to_rgb_uint8(np.asarray(img))
            if img.mode in ("LA", "PA", "RGBA", "RGBa"):
                img = img.convert("RGBA")
                return to_rgb_uint8(np.asarray(img))
            return to_rgb_uint8(np.asarray(img.convert("RGB")))
    except (UnidentifiedImageError, OSError, SyntaxError) as e:  # Pillow's decode errors
        pil_error = e
    except ValueError as e:
        raise ImageReadError(path, str(e)) from e
    if path.suffix.lower() in (".tif", ".tiff", ".png"):  # e.g. 16-bit colour TIFF that Pillow cannot open
        try:
            return to_rgb_uint8(_read_with_opencv(path))
        except ValueError:
            pass
    if not path.exists():
        raise ImageReadError(path, "file does not exist")
    raise ImageReadError(path, f"{type(pil_error).__name__}: {pil_error}") from pil_error
