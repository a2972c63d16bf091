"""Datasets for the on-disk layouts change-detection users have.

- Binary (LEVIR-CD, LEVIR-CD+, WHU-CD: ``A/ B/ label/``; SYSU-CD: ``time1/ time2/ label/``; ChangeMamba's
  ``T1/ T2/ GT/``), optionally under a split folder (``<root>/train/A``) and filtered by a list file.
- Semantic (SECOND: ``im1/ im2/ label1/ label2/`` with RGB colour-coded labels; ChangeMamba's
  ``T1/ T2/ GT_CD/ GT_T1/ GT_T2/`` with class ids; Mamba-FCS's ``A/ B/ labelA/ labelB/``).
- Damage (xBD: ``images/<name>_{pre,post}_disaster.png`` with ``masks/`` of the same file names or
  xView2 ``targets/<name>_{pre,post}_disaster_target.png``).

A wrong folder raises :class:`LayoutError` naming the layouts that were expected and what was found.
Every pair is checked when the dataset is built: a missing partner or images of different sizes are collected
per file in ``dataset.problems``; with ``on_problem="raise"`` (default) one :class:`PairProblemsError` lists
them all, with ``"skip"`` those pairs are left out (and listed in a warning).
"""
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

BINARY_LAYOUTS: Dict[str, Dict[str, str]] = {
    "levir": {"img_from": "A", "img_to": "B", "label": "label"},  # LEVIR-CD, LEVIR-CD+, WHU-CD (open-cd layout)
    "sysu": {"img_from": "time1", "img_to": "time2", "label": "label"},  # SYSU-CD as distributed
    "changemamba": {"img_from": "T1", "img_to": "T2", "label": "GT"},  # ChangeMamba's converted layout
}
SEMANTIC_LAYOUTS: Dict[str, Dict[str, str]] = {
    "second": {"img_from": "im1", "img_to": "im2", "label_from": "label1", "label_to": "label2"},  # RGB colour labels
    "changemamba": {"img_from": "T1", "img_to": "T2", "label": "GT_CD", "label_from": "GT_T1", "label_to": "GT_T2"},
    "mambafcs": {"img_from": "A", "img_to": "B", "label_from": "labelA", "label_to": "labelB"},
}

SECOND_CLASSES = ("unchanged", "water", "ground", "low vegetation", "tree", "building", "sports field")
SECOND_PALETTE = ((255, 255, 255), (0, 0, 255), (128, 128, 128), (0, 128, 0), (0, 255, 0), (128, 0, 0), (255, 0, 0))
XBD_DAMAGE_CLASSES = ("background", "no damage", "minor damage", "major damage", "destroyed")


class LayoutError(FileNotFoundError):
    """The dataset folder does not have any of the expected layouts."""


class PairProblemsError(ValueError):
    """Some pairs are incomplete or inconsistent; ``.problems`` lists them per file."""

    def __init__(self, problems: List["PairProblem"], root: Path, kept: int):
        self.problems = problems
        lines = "\n".join(f"  {p.name}: {p.reason}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in {root}:\n{lines}{more}\n"
                         f"Fix the files, or pass on_problem='skip' to use the {kept} complete pair(s).")


@dataclass
class PairProblem:
    name: str
    reason: str


def read_image(path: Union[str, Path]) -> np.ndarray:
    """RGB uint8 (H, W, 3); a clear error names an unreadable file."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as e:
        raise OSError(f"cannot read image {path}: {e}") from e


def read_label(path: Union[str, Path]) -> np.ndarray:
    """Label map as stored: (H, W) or (H, W, C) uint8."""
    try:
        with Image.open(path) as im:
            if im.mode == "P":
                return np.asarray(im)
            arr = np.asarray(im.convert("RGB") if im.mode in ("RGBA", "LA", "CMYK", "YCbCr") else im)
    except (OSError, ValueError) as e:
        raise OSError(f"cannot read label {path}: {e}") from e
    return arr


def binarize_label(label: np.ndarray) -> np.ndarray:
    """Change mask → int64 {0, 1} (255 kept as ignore). RGB masks use their first channel.

    0/1 masks are kept; 0/1/255 masks keep 255 as 'no data'; anything else (0/255 masks) is ``>= 128``,
    as open-cd's ``to_binary``.
    """
    if label.ndim == 3:
        label = label[..., 0]
    if label.dtype == np.uint8:
        present = set(np.flatnonzero(np.bincount(label.ravel(), minlength=256)).tolist())
    else:
        present = set(np.unique(label).tolist())
    if present <= {0, 1}:
        return label.astype(np.int64)
    if present <= {0, 1, 255} and 1 in present:
        return label.astype(np.int64)
    return (label >= 128).astype(np.int64)


def colour_to_index(label: np.ndarray, palette: Sequence[Tuple[int, int, int]] = SECOND_PALETTE) -> np.ndarray:
    """RGB colour-coded map → class ids; colours not in the palette become 255 (ignored)."""
    if label.ndim == 2:
        return label.astype(np.int64)
    code = (label[..., 0].astype(np.int64) << 16) | (label[..., 1].astype(np.int64) << 8) | label[..., 2]
    out = np.full(code.shape, 255, np.int64)
    for i, (r, g, b) in enumerate(palette):
        out[code == ((r << 16) | (g << 8) | b)] = i
    return out


def _image_size(path: Path) -> Optional[Tuple[int, int]]:
    """(W, H) from the header only, or None when the file cannot be opened."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError):
        return None


def _listing(folder: Path) -> str:
    if not folder.is_dir():
        return f"{folder} does not exist"
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    shown = ", ".join(entries[:12]) + (", ..." if len(entries) > 12 else "")
    return f"{folder} contains: {shown or '(nothing)'}"


def resolve_layout(root: Path, layout: Union[str, Dict[str, str]], layouts: Dict[str, Dict[str, str]],
                   split: Optional[str]) -> Tuple[Path, Dict[str, str]]:
    """Find the data folder (``root`` or ``root/split``) and the folder map; raise :class:`LayoutError` otherwise."""
    root = Path(root)
    candidates = [root / split, root] if split else [root]
    if isinstance(layout, dict):
        wanted = {"custom": layout}
    elif layout == "auto":
        wanted = layouts
    elif layout in layouts:
        wanted = {layout: layouts[layout]}
    else:
        raise ValueError(f"unknown layout {layout!r}; choose one of {sorted(layouts)}, 'auto', or a folder map dict")
    for base in candidates:
        for folders in wanted.values():
            if all((base / sub).is_dir() for sub in folders.values()):
                return base, dict(folders)
    expected = "\n".join(f"  {name}: " + ", ".join(f"{v}/" for v in folders.values()) for name, folders in wanted.items())
    where = " or ".join(str(c) for c in candidates)
    raise LayoutError(f"no change-detection layout found under {where}. Expected sub-folders\n{expected}\n"
                      f"{_listing(candidates[0])}. Pass layout=dict(img_from=..., img_to=..., label=...) for another layout.")


def _warn_if_split_ignored(cls: str, root: Path, split: Optional[str], base: Path, list_file) -> None:
    """A split without its own folder or list file reads the whole root: every split then sees the same pairs."""
    if split and list_file is None and Path(base) == Path(root):
        warnings.warn(f"{cls}: {Path(root) / split} does not exist, so split={split!r} reads every pair in {root}; "
                      "training and evaluation then see the same pairs: put each split in its own folder or give "
                      "each a list file (ann_file)", stacklevel=3)


def read_list_file(path: Union[str, Path]) -> List[str]:
    """One sample name per line (blank lines and '#' comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"list file {path} not found")
    names = [line.strip() for line in path.read_text().splitlines()]
    return [n for n in names if n and not n.startswith("#")]


class _PairDataset:
    """Shared scanning/validation logic. Subclasses define ``_scan`` and ``_load``."""

    task = "bcd"

    def __init__(self, on_problem: str = "raise", transform: Optional[Callable] = None, check_sizes: bool = True):
        if on_problem not in ("raise", "skip"):
            raise ValueError(f"on_problem must be 'raise' or 'skip', got {on_problem!r}")
        self.transform = transform
        self.check_sizes = check_sizes
        samples, problems = self._scan()
        self.problems: List[PairProblem] = problems
        if problems and on_problem == "raise":
            raise PairProblemsError(problems, self.root, len(samples))
        if problems:
            warnings.warn(f"{type(self).__name__}: skipped {len(problems)} incomplete pair(s) in {self.root}: "
                          + "; ".join(f"{p.name} ({p.reason})" for p in problems[:10]), stacklevel=3)
        if not samples:
            raise LayoutError(f"no image pairs found in {self.root}")
        self.samples: List[Dict[str, Path]] = samples

    def _check(self, name: str, files: Dict[str, Path]) -> Optional[PairProblem]:
        missing = [f"{key} {path}" for key, path in files.items() if not path.is_file()]
        if missing:
            return PairProblem(name, "missing " + ", ".join(missing))
        if self.check_sizes:
            sizes = {key: _image_size(path) for key, path in files.items()}
            bad = [key for key, s in sizes.items() if s is None]
            if bad:
                return PairProblem(name, "unreadable " + ", ".join(str(files[k]) for k in bad))
            if len(set(sizes.values())) > 1:
                desc = ", ".join(f"{k} {w}x{h}" for k, (w, h) in sizes.items())
                return PairProblem(name, f"size mismatch ({desc})")
        return None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self._load(self.samples[index])
        if self.transform is not None:
            sample = self.transform(sample)
        return sample


def _names_from_folder(folder: Path, suffix: Optional[str]) -> List[str]:
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and (p.name.endswith(suffix) if suffix else p.suffix.lower() in IMG_EXTENSIONS))


def _resolve_name(folder: Path, name: str, suffix: Optional[str]) -> str:
    """List files may omit the suffix (SECOND lists) or include it (LEVIR-CD+ lists)."""
    if (folder / name).is_file() or not suffix:
        return name
    return name + suffix


class _FolderMapDataset(_PairDataset):
    """Pairs whose files share one name across sub-folders (``A/x.png``, ``B/x.png``, ``label/x.png``)."""

    layouts: Dict[str, Dict[str, str]] = {}

    def __init__(self, root: Union[str, Path], split: Optional[str] = None, layout: Union[str, dict] = "auto",
                 list_file: Optional[Union[str, Path]] = None, img_suffix: Optional[str] = None,
                 label_suffix: Optional[str] = None, transform: Optional[Callable] = None,
                 on_problem: str = "raise", check_sizes: bool = True):
        self.root, self.folders = resolve_layout(Path(root), layout, self.layouts, split)
        _warn_if_split_ignored(type(self).__name__, Path(root), split, self.root, list_file)
        self.list_file = list_file
        self.img_suffix = img_suffix
        self.label_suffix = label_suffix
        super().__init__(on_problem=on_problem, transform=transform, check_sizes=check_sizes)

    def _label_name(self, name: str) -> str:
        if self.label_suffix and self.img_suffix and name.endswith(self.img_suffix):
            return name[: -len(self.img_suffix)] + self.label_suffix
        return name

    def _scan(self):
        first = self.root / self.folders["img_from"]
        if self.list_file is not None:
            names = [_resolve_name(first, n, self.img_suffix or ".png") for n in read_list_file(self.list_file)]
        else:
            names = _names_from_folder(first, self.img_suffix)
        samples, problems = [], []
        for name in names:
            files = {key: self.root / sub / (self._label_name(name) if key.startswith("label") else name)
                     for key, sub in self.folders.items()}
            problem = self._check(name, files)
            if problem:
                problems.append(problem)
            else:
                samples.append(dict(files, name=name))
        return samples, problems


class BinaryChangeDataset(_FolderMapDataset):
    """Bi-temporal pairs with a binary change mask. Items: ``img_from``, ``img_to`` (H, W, 3 uint8 before the
    transform), ``gt`` (H, W int64 in {0, 1}, 255 = ignore), ``name``.

    ``layout``: 'auto' (try each of ``BINARY_LAYOUTS``), a layout name, or a folder map
    ``dict(img_from=..., img_to=..., label=...)``. ``list_file``: one name per line (suffix optional).
    ``label_suffix``: when label files differ in suffix from images (with ``img_suffix``).
    """

    task = "bcd"
    layouts = BINARY_LAYOUTS
    classes = ("unchanged", "changed")

    def _load(self, s: dict) -> dict:
        return {"img_from": read_image(s["img_from"]), "img_to": read_image(s["img_to"]),
                "gt": binarize_label(read_label(s["label"])), "name": s["name"]}


class LEVIRCD(BinaryChangeDataset):
    """LEVIR-CD / LEVIR-CD+ (``train|val|test/A, B, label``, 1024² png, 0/255 masks)."""


class WHUCD(BinaryChangeDataset):
    """WHU-CD crops in the open-cd layout (``A, B, label``)."""


class SYSUCD(BinaryChangeDataset):
    """SYSU-CD (``train|val|test/time1, time2, label``, 256² png)."""


class SemanticChangeDataset(_FolderMapDataset):
    """SECOND-style semantic change detection. Items: ``img_from``, ``img_to``, ``gt`` (binary change),
    ``gt_from``, ``gt_to`` (class ids, 0 = no change), ``name``. RGB colour-coded labels are decoded with
    ``palette``; a binary ``gt`` is derived (``gt_from != 0``) when the layout has no change folder."""

    task = "scd"
    layouts = SEMANTIC_LAYOUTS
    classes = SECOND_CLASSES
    palette = SECOND_PALETTE

    def _load(self, s: dict) -> dict:
        gt_from = colour_to_index(read_label(s["label_from"]), self.palette)
        gt_to = colour_to_index(read_label(s["label_to"]), self.palette)
        if "label" in s:
            gt = binarize_label(read_label(s["label"]))
        else:
            gt = np.where(gt_from == 255, 255, (gt_from != 0).astype(np.int64))
        return {"img_from": read_image(s["img_from"]), "img_to": read_image(s["img_to"]), "gt": gt,
                "gt_from": gt_from, "gt_to": gt_to, "name": s["name"]}


class SECOND(SemanticChangeDataset):
    """SECOND (``im1, im2, label1, label2``; 512², 6 land-cover classes + no change)."""


class XBDDataset(_PairDataset):
    """xBD building damage. Items: ``img_from`` (pre), ``img_to`` (post), ``gt_loc`` (0/1 buildings on the pre
    image), ``gt_damage`` (0 background, 1 no, 2 minor, 3 major, 4 destroyed; other values → 255), ``name``."""

    task = "bda"
    classes = XBD_DAMAGE_CLASSES
    PRE, POST = "_pre_disaster", "_post_disaster"

    def __init__(self, root: Union[str, Path], split: Optional[str] = None,
                 list_file: Optional[Union[str, Path]] = None, transform: Optional[Callable] = None,
                 on_problem: str = "raise", check_sizes: bool = True, img_suffix: str = ".png"):
        root = Path(root)
        base = None
        for cand in ([root / split, root] if split else [root]):
            if (cand / "images").is_dir() and ((cand / "masks").is_dir() or (cand / "targets").is_dir()):
                base = cand
                break
        if base is None:
            raise LayoutError(f"no xBD layout under {root}{f' or {root / split}' if split else ''}. Expected images/ "
                              f"(<name>_pre_disaster{img_suffix}, <name>_post_disaster{img_suffix}) and masks/ "
                              f"(same file names) or targets/ (<name>_pre_disaster_target{img_suffix}). "
                              f"{_listing(root / split if split and (root / split).is_dir() else root)}")
        _warn_if_split_ignored(type(self).__name__, root, split, base, list_file)
        self.root = base
        self.mask_dir = "masks" if (base / "masks").is_dir() else "targets"
        self.list_file = list_file
        self.img_suffix = img_suffix
        super().__init__(on_problem=on_problem, transform=transform, check_sizes=check_sizes)

    def _scan(self):
        images = self.root / "images"
        if self.list_file is not None:
            names = read_list_file(self.list_file)
        else:
            tail = self.PRE + self.img_suffix
            names = sorted({p.name[: -len(tail)] for p in images.iterdir() if p.name.endswith(tail)}
                           | {p.name[: -len(self.POST + self.img_suffix)] for p in images.iterdir()
                              if p.name.endswith(self.POST + self.img_suffix)})
        target_tail = "_target" if self.mask_dir == "targets" else ""
        samples, problems = [], []
        for name in names:
            files = {
                "img_from": images / f"{name}{self.PRE}{self.img_suffix}",
                "img_to": images / f"{name}{self.POST}{self.img_suffix}",
                "label_loc": self.root / self.mask_dir / f"{name}{self.PRE}{target_tail}{self.img_suffix}",
                "label_damage": self.root / self.mask_dir / f"{name}{self.POST}{target_tail}{self.img_suffix}",
            }
            problem = self._check(name, files)
            if problem:
                problems.append(problem)
            else:
                samples.append(dict(files, name=name))
        return samples, problems

    def _load(self, s: dict) -> dict:
        loc = read_label(s["label_loc"])
        dmg = read_label(s["label_damage"])
        loc = loc[..., 0] if loc.ndim == 3 else loc
        dmg = (dmg[..., 0] if dmg.ndim == 3 else dmg).astype(np.int64)
        gt_loc = (loc > 0).astype(np.int64)  # 0/1 or 0/255 building masks
        gt_damage = np.where(dmg <= 4, dmg, 255)
        return {"img_from": read_image(s["img_from"]), "img_to": read_image(s["img_to"]), "gt_loc": gt_loc,
                "gt_damage": gt_damage, "name": s["name"]}


def build_dataset(task: str, root: Union[str, Path], **kwargs) -> _PairDataset:
    """``task`` in {'bcd', 'scd', 'bda'} → the matching dataset class."""
    classes = {"bcd": BinaryChangeDataset, "scd": SemanticChangeDataset, "bda": XBDDataset}
    if task not in classes:
        raise ValueError(f"unknown change-detection task {task!r}; choose one of {sorted(classes)}")
    return classes[task](root, **kwargs)


def collate(batch: List[dict]) -> dict:
    """Stack tensors/arrays of a list of samples; strings become lists (for ``DataLoader(collate_fn=...)``)."""
    import torch

    out = {}
    for key in batch[0]:
        vals = [b[key] for b in batch]
        if isinstance(vals[0], torch.Tensor):
            out[key] = torch.stack(vals)
        elif isinstance(vals[0], np.ndarray):
            out[key] = torch.as_tensor(np.stack(vals))
        else:
            out[key] = vals
    return out


__all__ = [
    "BINARY_LAYOUTS", "SEMANTIC_LAYOUTS", "SECOND_CLASSES", "SECOND_PALETTE", "XBD_DAMAGE_CLASSES", "LayoutError",
    "PairProblem", "PairProblemsError", "BinaryChangeDataset", "LEVIRCD", "WHUCD", "SYSUCD", "SemanticChangeDataset",
    "SECOND", "XBDDataset", "build_dataset", "collate", "read_image", "read_label", "binarize_label",
    "colour_to_index", "read_list_file"
]
