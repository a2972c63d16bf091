"""Inference: sliding windows for volumes, slice-wise prediction for 2D models, and writing masks to disk.

``write_masks`` writes a PNG mask and an overlay PNG per 2D image, a NIfTI mask (with the source affine) per
volume; it never overwrites an existing output unless ``overwrite=True`` and skips (and lists) files it cannot
read, so one bad file does not stop a batch. ``tools/infer.py`` is a thin wrapper around it.
"""
import itertools
import os
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .io import NIFTI_ENDINGS, UnreadableFileError, read_image_2d, read_nifti, write_nifti

__all__ = ["sliding_window_inference", "predict_slices", "logits_to_labels", "write_masks", "InferenceReport",
           "overlay"]

Predictor = Callable[[torch.Tensor], torch.Tensor]


def _starts(size: int, window: int, step: int) -> List[int]:
    if size <= window:
        return [0]
    starts = list(range(0, size - window + 1, step))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def _gaussian(window: Sequence[int], sigma_scale: float = 0.125) -> torch.Tensor:
    grids = []
    for w in window:
        x = torch.arange(w, dtype=torch.float32) - (w - 1) / 2
        grids.append(torch.exp(-0.5 * (x / max(w * sigma_scale, 1e-6)) ** 2))
    g = grids[0]
    for other in grids[1:]:
        g = g[..., None] * other
    return (g / g.max()).clamp(min=1e-3)


@torch.no_grad()
def sliding_window_inference(inputs: torch.Tensor, roi_size: Sequence[int], predictor: Predictor,
                             overlap: float = 0.5, mode: str = "gaussian", sw_batch_size: int = 1) -> torch.Tensor:
    """Logits for (B, C, *S) ``inputs`` from windows of ``roi_size`` (padded when the image is smaller).

    Windows overlap by ``overlap``; their logits are blended with a Gaussian (nnU-Net) or constant weight.
    """
    spatial = inputs.shape[2:]
    if len(roi_size) != len(spatial):
        raise ValueError(f"roi_size {tuple(roi_size)} does not match the {len(spatial)} spatial dims of the input")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    pad = []
    for s, r in zip(reversed(spatial), reversed(roi_size)):
        pad += [0, max(r - s, 0)]
    x = F.pad(inputs, pad) if any(pad) else inputs
    padded = x.shape[2:]
    steps = [max(int(r * (1 - overlap)), 1) for r in roi_size]
    origins = list(itertools.product(*[_starts(s, r, st) for s, r, st in zip(padded, roi_size, steps)]))
    weight = _gaussian(roi_size) if mode == "gaussian" else torch.ones(tuple(roi_size))
    weight = weight.to(inputs.device)
    out, norm = None, torch.zeros(padded, device=inputs.device)
    for k in range(0, len(origins), sw_batch_size):
        chunk = origins[k:k + sw_batch_size]
        slices = [tuple(slice(o, o + r) for o, r in zip(org, roi_size)) for org in chunk]
        batch = torch.cat([x[(slice(None), slice(None)) + sl] for sl in slices])
        pred = predictor(batch).float()
        if out is None:
            out = torch.zeros((inputs.shape[0], pred.shape[1]) + tuple(padded), device=inputs.device)
        for j, sl in enumerate(slices):
            part = pred[j * inputs.shape[0]:(j + 1) * inputs.shape[0]]
            out[(slice(None), slice(None)) + sl] += part * weight
            norm[sl] += weight
    out = out / norm
    crop = (slice(None), slice(None)) + tuple(slice(0, s) for s in spatial)
    return out[crop]


@torch.no_grad()
def predict_slices(volume: torch.Tensor, predictor: Predictor, size: Optional[int] = None,
                   batch_size: int = 8) -> torch.Tensor:
    """2D model on a (B, C, D, H, W) volume, slice by slice along D (Synapse test protocol): each slice is resized
    to ``size``×``size`` (bilinear) if given, its logits resized back; returns logits (B, K, D, H, W)."""
    B, C, D, H, W = volume.shape
    slices = volume.permute(0, 2, 1, 3, 4).reshape(B * D, C, H, W)
    outs = []
    for k in range(0, slices.shape[0], batch_size):
        s = slices[k:k + batch_size]
        if size is not None and (size, size) != (H, W):
            s = F.interpolate(s, size=(size, size), mode="bilinear", align_corners=False)
        y = predictor(s).float()
        if y.shape[-2:] != (H, W):
            y = F.interpolate(y, size=(H, W), mode="bilinear", align_corners=False)
        outs.append(y)
    y = torch.cat(outs)
    return y.view(B, D, -1, H, W).permute(0, 2, 1, 3, 4)


def logits_to_labels(logits: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """(B, K, *S) logits → (B, *S) int64 labels: sigmoid > threshold for K = 1, argmax otherwise."""
    if logits.shape[1] == 1:
        return (logits[:, 0].sigmoid() > threshold).long()
    return logits.argmax(1)


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """RGB uint8 image with each foreground class tinted by a fixed palette colour."""
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255],
                        [0, 255, 255], [255, 128, 0], [128, 0, 255], [0, 128, 255]], dtype=np.float32)
    out = image.astype(np.float32).copy()
    for c in np.unique(mask):
        if c == 0:
            continue
        sel = mask == c
        out[sel] = (1 - alpha) * out[sel] + alpha * palette[int(c) % len(palette)]
    return out.clip(0, 255).astype(np.uint8)


@dataclass
class InferenceReport:
    written: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (input path, reason)


def _stem(path: str) -> str:
    name = os.path.basename(path)
    for end in NIFTI_ENDINGS:
        if name.endswith(end):
            name = name[: -len(end)]
            return name[:-5] if len(name) > 5 and name[-5] == "_" and name[-4:].isdigit() else name
    return os.path.splitext(name)[0]


def _outputs(path: str, out_dir: str) -> List[str]:
    stem = _stem(path)
    if path.endswith(NIFTI_ENDINGS):
        return [os.path.join(out_dir, stem + ".nii.gz")]
    return [os.path.join(out_dir, stem + "_mask.png"), os.path.join(out_dir, stem + "_overlay.png")]


def write_masks(predict: Predictor, inputs: Sequence[str], out_dir: str, overwrite: bool = False,
                image_size: Optional[int] = None, roi_size: Optional[Sequence[int]] = None, overlap: float = 0.5,
                threshold: float = 0.5, intensity_scale: float = 255.0, mask_scale: Optional[int] = None,
                device=None) -> InferenceReport:
    """Predict and write a mask per input file.

    Args:
        predict: (B, C, *S) float tensor → (B, K, *S) logits (a model, or a lambda around one).
        inputs: 2D images (PNG/JPEG/...) and/or NIfTI volumes.
        out_dir: created if needed. 2D: ``<stem>_mask.png`` (label values × ``mask_scale``; default 255 for binary,
            1 otherwise) and ``<stem>_overlay.png``. 3D: ``<stem>.nii.gz`` (nnU-Net's ``_0000`` suffix dropped) with
            the input's affine.
        overwrite: without it, existing outputs raise ``FileExistsError`` before anything is written.
        image_size: 2D images are resized to this square size for the model and the mask resized back.
        roi_size: sliding-window size for volumes (default: whole volume). overlap: window overlap.
        intensity_scale: 2D images are min-max scaled to [0, intensity_scale] (ISIC recipe).
    Returns an :class:`InferenceReport` listing written files and skipped inputs with the reason.
    """
    from PIL import Image

    os.makedirs(out_dir, exist_ok=True)
    if not overwrite:
        existing = [o for p in inputs for o in _outputs(os.fspath(p), out_dir) if os.path.exists(o)]
        if existing:
            raise FileExistsError(f"{len(existing)} output file(s) already exist, e.g. {existing[0]}; pass "
                                  "overwrite=True (or --overwrite) to replace them, or choose another output folder")
    report = InferenceReport()
    for path in map(os.fspath, inputs):
        outs = _outputs(path, out_dir)
        try:
            if path.endswith(NIFTI_ENDINGS):
                vol, affine = read_nifti(path)
                x = torch.from_numpy(vol.astype(np.float32))
                x = ((x - x.mean()) / x.std().clamp(min=1e-8))[None, None]
                if device is not None:
                    x = x.to(device)
                logits = (sliding_window_inference(x, roi_size, predict, overlap) if roi_size is not None
                          else torch.no_grad()(predict)(x))
                labels = logits_to_labels(logits, threshold)[0].cpu().numpy()
                write_nifti(labels, outs[0], affine)
                report.written.append(outs[0])
            else:
                rgb = read_image_2d(path)
                img = rgb.astype(np.float32)
                img = (img - img.min()) / max(float(img.max() - img.min()), 1e-8) * intensity_scale
                x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
                H, W = x.shape[-2:]
                if image_size is not None:
                    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
                if device is not None:
                    x = x.to(device)
                with torch.no_grad():
                    logits = predict(x).float()
                if logits.shape[-2:] != (H, W):
                    logits = F.interpolate(logits.cpu(), size=(H, W), mode="bilinear", align_corners=False)
                labels = logits_to_labels(logits, threshold)[0].cpu().numpy()
                scale = mask_scale if mask_scale is not None else (255 if logits.shape[1] == 1 else 1)
                Image.fromarray((labels * scale).astype(np.uint8)).save(outs[0])
                Image.fromarray(overlay(rgb, labels)).save(outs[1])
                report.written += outs
        except (UnreadableFileError, FileNotFoundError) as e:
            report.skipped.append((path, str(e)))
    return report
