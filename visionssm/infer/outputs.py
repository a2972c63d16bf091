"""Writing inference results: the run folder (checked first, predictions appended per batch, files replaced
atomically, ``--overwrite``/``--resume``), JSON/CSV, label masks as PNG, COCO RLE, overlays, contact sheets."""
import csv
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["LOG_NAME", "RunDir", "check_writable", "class_name", "contact_sheet", "csv_safe", "draw_detections", "encode_rle",
           "ensure_writable", "mask_png", "output_name", "overlay_mask", "palette_for", "write_csv", "write_json"]

LOG_NAME = "predictions.jsonl"
PARTIAL = ".partial-"  # prefix of a file being written; renamed onto its real name when complete
SLEEP_ENV = "VISIONSSM_INFER_SLEEP_PER_BATCH"  # seconds to pause after each logged batch (interruption tests)


def check_writable(paths: Iterable[os.PathLike], overwrite: bool, resume_hint: bool = False) -> None:
    """Refuse to replace existing outputs unless ``overwrite``: checked before any work is done."""
    if overwrite:
        return
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        resume = ", --resume to finish an interrupted run" if resume_hint else ""
        raise FileExistsError(f"output {existing[0]} already exists{more}; pass --overwrite (overwrite=True) to "
                              f"replace it{resume}, or choose another --out-dir")


def ensure_writable(out_dir: os.PathLike) -> Path:
    """Create ``out_dir`` and prove a file can be written there, before any model is run."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f"{PARTIAL}write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise PermissionError(f"output folder {out} is not writable ({e.strerror or e}); fix its permissions or "
                              "choose another --out-dir") from None
    return out


def output_name(relative: Path, suffix: str = ".png", taken: Optional[set] = None) -> Path:
    """``a/b/cat.jpg`` → ``a/b/cat.png``; when that is already ``taken`` (``cat.jpg`` came first and this is
    ``cat.png``) the extension is kept in the name, ``cat_png.png`` (then ``_2``, ...), so no two inputs share an
    output."""
    relative = Path(relative)
    name = relative.with_name(relative.stem + suffix) if relative.suffix else relative.with_name(relative.name + suffix)
    if taken is not None:
        base, k = relative.with_name(f"{relative.stem}_{relative.suffix.lstrip('.')}"), 1
        while name in taken:
            name = base.with_name(base.name + (f"_{k}" if k > 1 else "") + suffix)
            k += 1
        taken.add(name)
    return name


def _atomic(dest: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` then rename onto ``dest``: ``dest`` is either the old file or the complete new one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(PARTIAL + dest.name)  # same folder and extension: the rename is atomic, savers see the type
    try:
        write(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_log(path: os.PathLike) -> List[Dict[str, Any]]:
    """Records of ``predictions.jsonl``; a last line cut short by a killed process is ignored."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "path" in rec:
            out.append(rec)
    return out


class RunDir:
    """The output folder of one run.

    Checked before any work: writable, and no earlier outputs unless ``overwrite`` (then the earlier run's files,
    found through its ``predictions.jsonl``, and every planned output are removed first, so old and new results
    never mix) or ``resume`` (then the inputs already in ``predictions.jsonl`` are :attr:`done` and skipped).
    Per-input files are written to a temporary name and renamed; each finished batch is appended to
    ``predictions.jsonl`` (one record per input, listing its ``files``), so an interrupted run keeps what it
    finished; the summaries are written at the end, atomically.
    """

    def __init__(self, out_dir: os.PathLike, planned: Iterable[os.PathLike] = (), *, overwrite: bool = False,
                 resume: bool = False, summaries: Sequence[str] = ("predictions.json",)):
        if overwrite and resume:
            raise ValueError("--overwrite starts over and --resume continues: pass one of them")
        self.out_dir = ensure_writable(out_dir)
        self.log = self.out_dir / LOG_NAME
        self.summaries = tuple(summaries)
        planned = [self.out_dir / p for p in planned]
        self.done: Dict[str, Dict[str, Any]] = {}
        if resume:
            self.done = {r["path"]: r for r in read_log(self.log)}
        elif overwrite:
            old = [self.out_dir / f for r in read_log(self.log) for f in r.get("files", ())]
            for p in old + planned + [self.out_dir / s for s in self.summaries] + [self.log]:
                if p.is_file() or p.is_symlink():
                    p.unlink()
        else:
            check_writable([self.log] + [self.out_dir / s for s in self.summaries] + planned, False, True)
        self._sleep = float(os.environ.get(SLEEP_ENV, "0") or 0)

    def save(self, rel: os.PathLike, write: Callable[[Path], None]) -> str:
        """Write ``out_dir/rel`` through ``write(tmp_path)`` and an atomic rename; returns the path."""
        dest = self.out_dir / rel
        _atomic(dest, write)
        return str(dest)

    def append(self, records: Sequence[Dict[str, Any]]) -> None:
        """Log finished inputs (after their files are complete): one JSON line each, flushed to disk."""
        if records:
            text = "".join(json.dumps(_jsonable(r)) + "\n" for r in records)
            with open(self.log, "a+b") as f:
                if f.tell():
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":  # a line cut short by a killed run
                        text = "\n" + text
                f.write(text.encode())
                f.flush()
                os.fsync(f.fileno())
        if self._sleep:
            time.sleep(self._sleep)

    def write_json(self, name: str, obj: Any) -> str:
        return self.save(name, lambda tmp: write_json(tmp, obj))

    def write_csv(self, name: str, rows: Sequence[Dict[str, Any]], fieldnames: Sequence[str]) -> str:
        return self.save(name, lambda tmp: write_csv(tmp, rows, fieldnames))


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


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, tab, CR
    first) gets a leading ``'``, which spreadsheets show as text; numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(path: os.PathLike, rows: Sequence[Dict[str, Any]], fieldnames: Sequence[str]) -> None:
    """CSV with formula-like text cells neutralised (:func:`csv_safe`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fieldnames), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_safe(_jsonable(v)) for k, v in row.items()})


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
        draw.text((x1 + 2, max(y1 - 11, 0)), f"{class_name(class_names, lab)} {score:.2f}", fill=c)
    return pil


def class_name(class_names: Sequence[str], label: int) -> str:
    """The label's name, or the id as text when the model has more classes than names."""
    return class_names[label] if 0 <= label < len(class_names) else str(label)


def contact_sheet(images: Sequence[np.ndarray], captions: Sequence[str], cell: int = 96, cols: Optional[int] = None,
                  caption_colours: Optional[Sequence[Tuple[int, int, int]]] = None):
    """A grid of thumbnails (each fitted into ``cell`` x ``cell``, nearest-neighbour so tiny images stay crisp)
    with its caption under it (``\n`` separates caption lines); returns a PIL image."""
    from PIL import Image, ImageDraw

    n = len(images)
    cols = cols or max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, int(np.ceil(n / cols)))
    text_h = 2 + 13 * max([c.count("\n") + 1 for c in captions] or [1])
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
        draw.multiline_text((c * cell + 3, r * (cell + text_h) + cell + 1), cap, fill=colour, spacing=1)
    return sheet

