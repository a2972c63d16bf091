"""Writing inference results: no-overwrite guard, JSON/CSV, label masks as PNG, COCO RLE, overlays, contact sheets."""
import csv
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

__all__ = ["check_writable", "contact_sheet", "draw_detections", "encode_rle", "mask_png", "output_name",
           "overlay_mask", "palette_for", "write_csv", "write_json"]


def check_writable(paths: Iterable[os.PathLike], overwrite: bool) -> None:
    """Refuse to replace existing outputs unless ``overwrite``: checked before any work is done."""
    if overwrite:
        return
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise FileExistsError(f"output {existing[0]} already exists{more}; pass --overwrite (overwrite=True) to "
                              "replace it, or choose another --out-dir")


def output_name(relative: Path, suffix: str = ".png", taken: Optional[set] = None) -> Path:
    """``a/b/cat.jpg`` → ``a/b/cat.png``; when ``cat.png`` is already ``taken`` (a ``cat.png`` input beside
    ``cat.jpg``) the extension is kept in the name, ``cat_jpg.png``, so no two inputs share an output."""
    name = relative.with_suffix(suffix)
    if taken is not None:
        if name in taken:
            name = relative.with_name(f"{relative.stem}_{relative.suffix.lstrip('.')}{suffix}")
        taken.add(name)
    return name


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: os.PathLike, obj: Any) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(_jsonable(obj), f, indent=1)
        f.write("\n")


def write_csv(path: os.PathLike, rows: Sequence[Dict[str, Any]], fieldnames: Sequence[str]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fieldnames), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _jsonable(v) for k, v in row.items()})


def encode_rle(mask: np.ndarray) -> Dict[str, Any]:
    """COCO run-length encoding of an H x W binary mask (``{'size': [H, W], 'counts': str}``, pycocotools)."""
    try:
        from pycocotools import mask as mask_utils
    except ImportError as e:
        raise ImportError("instance masks are written as COCO RLE, which needs pycocotools: "
                          "pip install pycocotools (or 'visionssm[mm]')") from e
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def palette_for(num_classes: int, palette: Optional[Sequence[Sequence[int]]] = None) -> np.ndarray:
    """``num_classes`` x 3 uint8 colours: the dataset's palette when given, else a fixed pseudo-random one."""
    if palette is not None and len(palette) >= num_classes:
        return np.asarray(palette[:num_classes], dtype=np.uint8).reshape(num_classes, 3)
    rng = np.random.default_rng(12345)
    return rng.integers(40, 256, size=(max(num_classes, 1), 3), dtype=np.uint8)


def mask_png(path: os.PathLike, labels: np.ndarray) -> None:
    """Label ids as a PNG: 8-bit when they fit (< 256 classes), else 16-bit; values are the class ids."""
    from PIL import Image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    dtype = np.uint8 if labels.size == 0 or int(labels.max()) < 256 else np.uint16
    Image.fromarray(labels.astype(dtype)).save(path)


def overlay_mask(image: np.ndarray, labels: np.ndarray, colours: np.ndarray, alpha: float = 0.5,
                 ignore: Sequence[int] = ()) -> np.ndarray:
    """Blend class colours over an RGB image (labels in ``ignore``, e.g. background, left untouched)."""
    colour = colours[np.clip(labels, 0, len(colours) - 1)].astype(np.float32)
    out = image.astype(np.float32) * (1 - alpha) + colour * alpha
    if ignore:
        keep = np.isin(labels, list(ignore))[..., None]
        out = np.where(keep, image.astype(np.float32), out)
    return np.clip(out, 0, 255).astype(np.uint8)


def draw_detections(image: np.ndarray, boxes: np.ndarray, labels: Sequence[int], scores: Sequence[float],
                    class_names: Sequence[str], masks: Optional[np.ndarray] = None, alpha: float = 0.45):
    """RGB image with instance masks tinted, boxes drawn and ``name score`` captions (a PIL image)."""
    from PIL import Image, ImageDraw

    colours = palette_for(max(len(class_names), 1))
    img = image.astype(np.float32)
    if masks is not None:
        for m, lab in zip(masks, labels):
            img[m.astype(bool)] = img[m.astype(bool)] * (1 - alpha) + colours[lab % len(colours)] * alpha
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for box, lab, score in zip(boxes, labels, scores):
        c = tuple(int(v) for v in colours[lab % len(colours)])
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle([x1, y1, x2, y2], outline=c, width=2)
        draw.text((x1 + 2, max(y1 - 11, 0)), f"{_name(class_names, lab)} {score:.2f}", fill=c)
    return pil


def _name(class_names: Sequence[str], label: int) -> str:
    return class_names[label] if 0 <= label < len(class_names) else str(label)


def contact_sheet(images: Sequence[np.ndarray], captions: Sequence[str], cell: int = 96, cols: Optional[int] = None,
                  caption_colours: Optional[Sequence[Tuple[int, int, int]]] = None):
    """A grid of thumbnails (each fitted into ``cell`` x ``cell``, nearest-neighbour so tiny images stay crisp)
    with a caption line under each; returns a PIL image."""
    from PIL import Image, ImageDraw

    n = len(images)
    cols = cols or max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, int(np.ceil(n / cols)))
    text_h = 14
    sheet = Image.new("RGB", (cols * cell, rows * (cell + text_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (img, cap) in enumerate(zip(images, captions)):
        r, c = divmod(i, cols)
        thumb = Image.fromarray(img)
        scale = cell / max(thumb.size)
        size = (max(1, round(thumb.size[0] * scale)), max(1, round(thumb.size[1] * scale)))
        resample = Image.NEAREST if scale >= 1 else Image.BILINEAR
        thumb = thumb.resize(size, resample)
        x0 = c * cell + (cell - size[0]) // 2
        y0 = r * (cell + text_h) + (cell - size[1]) // 2
        sheet.paste(thumb, (x0, y0))
        colour = caption_colours[i] if caption_colours is not None else (0, 0, 0)
        draw.text((c * cell + 3, r * (cell + text_h) + cell + 1), cap, fill=colour)
    return sheet

