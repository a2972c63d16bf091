"""Inference over a folder pair: ``before/x.png`` + ``after/x.png`` → change mask and coloured overlay.

Pairs are matched by their path relative to each folder (sub-folders included). Bad inputs (unreadable,
missing partner, different sizes) are skipped and listed; the output folder is checked before any work and
earlier outputs are replaced only with ``overwrite=True`` (``resume=True`` continues an interrupted run).

Outputs under ``out_dir`` (per input ``<rel>``, the input's relative path, ``.png``; where two inputs would share
a name the later keeps its extension: ``a.jpg`` and ``a.png`` give ``a.png`` and ``a_png.png``):
- ``masks/<rel>``: binary change 0/255 (MambaBCD, MambaSCD) or damage class ids 0..4 (MambaBDA);
- ``overlays/<rel>``: the after image with changes tinted (red; land-cover / damage colours for SCD / BDA);
- MambaSCD also ``semantic_from/<rel>`` and ``semantic_to/<rel>``, colour-coded with the SECOND palette;
- ``predictions.jsonl`` (one line per finished pair, written as the run goes) and ``predictions.json`` (summary).
"""
from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from visionssm.infer.common import InferenceReport
from visionssm.infer.common import progress as progress_bar
from visionssm.infer.io import IMAGE_EXTENSIONS, ImageReadError, list_images, read_image
from visionssm.infer.outputs import RunDir, output_name, overlay_mask

from .datasets import SECOND_PALETTE
from .transforms import IMAGENET_MEAN, IMAGENET_STD

CHANGE_COLOUR = (255, 0, 0)
DAMAGE_PALETTE = ((0, 0, 0), (0, 200, 0), (255, 230, 0), (255, 128, 0), (255, 0, 0))


def _pairs(folder: Path, recursive: bool, report: InferenceReport) -> Dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"input folder {folder} does not exist")
    links: List = []
    try:
        root, files = list_images(folder, recursive=recursive, extensions=IMAGE_EXTENSIONS, skipped=links)
    except FileNotFoundError:
        root, files = folder, []
    for path, reason in links:
        report.fail(path, reason)
    return {f.relative_to(root).as_posix(): f for f in files}


def _outputs(rel: Path, task: str) -> Dict[str, Path]:
    subs = ("masks", "overlays") + (("semantic_from", "semantic_to") if task == "scd" else ())
    return {("mask" if sub == "masks" else "overlay" if sub == "overlays" else sub): Path(sub) / rel for sub in subs}


def _to_tensor(img: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((img.astype(np.float32) - mean) / std).transpose(2, 0, 1).copy())


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
                 overwrite: bool = False, resume: bool = False, recursive: bool = True, device=None,
                 alpha: float = 0.5, progress: bool = True, size_divisor: int = 32) -> InferenceReport:
    """Run ``model`` on every pair with the same relative path in ``before_dir`` and ``after_dir``.

    Existing outputs raise ``FileExistsError`` before anything is computed, unless ``overwrite=True`` (the earlier
    run's outputs are removed first) or ``resume=True`` (pairs already in ``predictions.jsonl`` are kept).
    Returns an :class:`~visionssm.infer.InferenceReport`; skipped inputs are listed as they occur.
    """
    task = _task_of(model)
    before_dir, after_dir = Path(before_dir), Path(after_dir)
    report = InferenceReport("change detection")
    before, after = _pairs(before_dir, recursive, report), _pairs(after_dir, recursive, report)
    for name in sorted(set(before) ^ set(after)):
        report.fail(name, f"no partner in {after_dir if name in before else before_dir}")
    names = sorted(set(before) & set(after))
    taken: set = set()
    outs = {name: _outputs(output_name(Path(name), ".png", taken), task) for name in names}
    run = RunDir(out_dir, [p for o in outs.values() for p in o.values()], overwrite=overwrite, resume=resume)
    report.num_inputs = len(names)
    todo = [n for n in names if n not in run.done]
    report.num_resumed = len(names) - len(todo)
    records = []
    was_training = model.training
    model.eval()
    try:
        with progress_bar(len(todo), "change detection", progress) as bar:
            for name in todo:
                bar.update(1)
                try:
                    img_from, img_to = read_image(before[name]), read_image(after[name])
                except ImageReadError as e:
                    report.fail(name, str(e))
                    continue
                if img_from.shape != img_to.shape:
                    report.fail(name, f"size mismatch: before {img_from.shape[1]}x{img_from.shape[0]}, "
                                      f"after {img_to.shape[1]}x{img_to.shape[0]}")
                    continue
                preds = predict_pair(model, img_from, img_to, device=device, size_divisor=size_divisor)
                files = _write_outputs(run, outs[name], task, preds, img_to, alpha)
                report.written += [str(run.out_dir / f) for f in files]
                rec = {"path": name, "files": files, "height": int(img_to.shape[0]), "width": int(img_to.shape[1])}
                key = "damage" if task == "bda" else "change"
                rec["changed_fraction"] = round(float((preds[key] > 0).mean()), 6)
                run.append([rec])
                records.append(rec)
                report.num_predicted = len(records)
    finally:
        model.train(was_training)
    report.finish()
    new = {r["path"]: r for r in records}
    all_records = [new.get(n) or run.done[n] for n in names if n in new or n in run.done]
    report.written.append(run.write_json("predictions.json", {**report.as_dict(), "predictions": all_records}))
    return report


def _write_outputs(run: RunDir, paths: Dict[str, Path], task: str, preds: Dict[str, np.ndarray],
                   img_to: np.ndarray, alpha: float) -> List[str]:
    """Saves the pair's images (each atomically); returns their paths relative to the output folder."""
    def save(key: str, arr: np.ndarray) -> None:
        run.save(paths[key], Image.fromarray(arr).save)

    if task == "bda":
        damage = preds["damage"]
        save("mask", damage)
        save("overlay", overlay_mask(img_to, damage, np.asarray(DAMAGE_PALETTE, np.uint8), alpha, ignore=(0,)))
    else:
        change = preds["change"]
        save("mask", (change > 0).astype(np.uint8) * 255)
        if task == "scd":
            palette = np.asarray(SECOND_PALETTE, np.uint8)
            save("semantic_from", palette[preds["semantic_from"]])
            save("semantic_to", palette[preds["semantic_to"]])
            save("overlay", overlay_mask(img_to, preds["semantic_to"], palette, alpha, ignore=(0,)))
        else:
            save("overlay", overlay_mask(img_to, change, np.asarray([CHANGE_COLOUR] * 2, np.uint8), alpha,
                                         ignore=(0,)))
    return [p.as_posix() for p in paths.values()]


__all__ = ["infer_folder", "predict_pair"]
