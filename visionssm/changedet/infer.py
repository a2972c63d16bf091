"""Inference over a folder pair: ``before/x.png`` + ``after/x.png`` → change mask and coloured overlay.

Bad files (unreadable, missing partner, different sizes) are skipped and listed at the end; outputs that
already exist are never overwritten unless ``overwrite=True`` (``skip_existing=True`` resumes a run).

Outputs under ``out_dir`` (per input name ``x``):
- ``masks/x.png``: binary change 0/255 (MambaBCD, MambaSCD) or damage class ids 0..4 (MambaBDA);
- ``overlays/x.png``: the after image with changes tinted (red; land-cover / damage colours for SCD / BDA);
- MambaSCD also ``semantic_from/x.png`` and ``semantic_to/x.png``, colour-coded with the SECOND palette.
"""
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .datasets import IMG_EXTENSIONS, SECOND_PALETTE, read_image
from .transforms import IMAGENET_MEAN, IMAGENET_STD

CHANGE_COLOUR = (255, 0, 0)
DAMAGE_PALETTE = ((0, 0, 0), (0, 200, 0), (255, 230, 0), (255, 128, 0), (255, 0, 0))


@dataclass
class InferenceReport:
    """What was written and which inputs were skipped (name, reason)."""

    written: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.written)} pair(s) written, {len(self.failed)} skipped"]
        lines += [f"  {name}: {reason}" for name, reason in self.failed]
        return "\n".join(lines)


def _list_images(folder: Path) -> Dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"input folder {folder} does not exist")
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS}


def _output_paths(out_dir: Path, name: str, task: str) -> Dict[str, Path]:
    stem = Path(name).stem + ".png"
    paths = {"mask": out_dir / "masks" / stem, "overlay": out_dir / "overlays" / stem}
    if task == "scd":
        paths["semantic_from"] = out_dir / "semantic_from" / stem
        paths["semantic_to"] = out_dir / "semantic_to" / stem
    return paths


def _to_tensor(img: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((img.astype(np.float32) - mean) / std).transpose(2, 0, 1).copy())


def _overlay(image: np.ndarray, labels: np.ndarray, palette: Sequence[Tuple[int, int, int]], alpha: float) -> np.ndarray:
    colours = np.asarray(palette, np.float32)[labels]
    hit = (labels > 0)[..., None]
    blended = image.astype(np.float32) * (1 - alpha) + colours * alpha
    return np.where(hit, blended, image).astype(np.uint8)


def _task_of(model) -> str:
    task = getattr(model, "task", None)
    if task not in ("bcd", "scd", "bda"):
        raise TypeError("infer_folder needs a MambaBCD / MambaSCD / MambaBDA model (with .task and .predict)")
    return task


@torch.inference_mode()
def predict_pair(model, img_from: np.ndarray, img_to: np.ndarray, device=None, size_divisor: int = 32,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> Dict[str, np.ndarray]:
    """Label maps (``model.predict``) for one pair of H×W×3 uint8 images; pads to ``size_divisor`` and crops back."""
    device = device or next(model.parameters()).device
    m, s = np.asarray(mean, np.float32) * 255, np.asarray(std, np.float32) * 255
    a = _to_tensor(img_from, m, s)[None].to(device)
    b = _to_tensor(img_to, m, s)[None].to(device)
    H, W = a.shape[-2:]
    ph, pw = (-H) % size_divisor, (-W) % size_divisor
    if ph or pw:  # zero after normalisation = the mean colour
        a, b = F.pad(a, (0, pw, 0, ph)), F.pad(b, (0, pw, 0, ph))
    preds = model.predict(model(a, b))
    return {k: v[0, :H, :W].cpu().numpy().astype(np.uint8) for k, v in preds.items()}


def infer_folder(model, before_dir: Union[str, Path], after_dir: Union[str, Path], out_dir: Union[str, Path], *,
                 overwrite: bool = False, skip_existing: bool = False, device=None, alpha: float = 0.5,
                 progress: bool = True, size_divisor: int = 32) -> InferenceReport:
    """Run ``model`` on every pair with the same file name in ``before_dir`` and ``after_dir``.

    Existing outputs raise ``FileExistsError`` before anything is computed, unless ``overwrite=True`` (replace
    them) or ``skip_existing=True`` (leave those pairs out, e.g. to resume). Returns an :class:`InferenceReport`
    and prints its list of skipped inputs at the end.
    """
    from tqdm.auto import tqdm

    task = _task_of(model)
    before_dir, after_dir, out_dir = Path(before_dir), Path(after_dir), Path(out_dir)
    before, after = _list_images(before_dir), _list_images(after_dir)
    report = InferenceReport()
    for name in sorted(set(before) ^ set(after)):
        where = after_dir if name in before else before_dir
        report.failed.append((name, f"no partner in {where}"))
    names = sorted(set(before) & set(after))

    todo = []
    existing = [name for name in names if any(p.exists() for p in _output_paths(out_dir, name, task).values())]
    if existing and not (overwrite or skip_existing):
        raise FileExistsError(f"{len(existing)} output(s) already exist in {out_dir} (e.g. for {existing[0]}); "
                              f"pass overwrite=True to replace them or skip_existing=True to keep them")
    for name in names:
        if skip_existing and not overwrite and name in existing:
            continue
        todo.append(name)

    was_training = model.training
    model.eval()
    try:
        for name in tqdm(todo, desc="change detection", unit="pair", disable=not progress):
            try:
                img_from, img_to = read_image(before[name]), read_image(after[name])
                if img_from.shape != img_to.shape:
                    raise ValueError(f"size mismatch: before {img_from.shape[1]}x{img_from.shape[0]}, "
                                     f"after {img_to.shape[1]}x{img_to.shape[0]}")
                preds = predict_pair(model, img_from, img_to, device=device, size_divisor=size_divisor)
            except (OSError, ValueError) as e:
                report.failed.append((name, str(e)))
                continue
            _write_outputs(_output_paths(out_dir, name, task), task, preds, img_to, alpha)
            report.written.append(name)
    finally:
        model.train(was_training)
    if report.failed:
        print(report.summary(), file=sys.stderr)
    return report


def _write_outputs(paths: Dict[str, Path], task: str, preds: Dict[str, np.ndarray], img_to: np.ndarray,
                   alpha: float) -> None:
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    if task == "bda":
        damage = preds["damage"]
        Image.fromarray(damage).save(paths["mask"])
        Image.fromarray(_overlay(img_to, damage, DAMAGE_PALETTE, alpha)).save(paths["overlay"])
        return
    change = preds["change"]
    Image.fromarray((change > 0).astype(np.uint8) * 255).save(paths["mask"])
    if task == "scd":
        palette = np.asarray(SECOND_PALETTE, np.uint8)
        Image.fromarray(palette[preds["semantic_from"]]).save(paths["semantic_from"])
        Image.fromarray(palette[preds["semantic_to"]]).save(paths["semantic_to"])
        Image.fromarray(_overlay(img_to, preds["semantic_to"], SECOND_PALETTE, alpha)).save(paths["overlay"])
    else:
        Image.fromarray(_overlay(img_to, change, (CHANGE_COLOUR, CHANGE_COLOUR), alpha)).save(paths["overlay"])


__all__ = ["InferenceReport", "infer_folder", "predict_pair"]
