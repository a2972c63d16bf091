"""Inference: sliding windows for volumes, slice-wise prediction for 2D models, and writing masks to disk.

``write_masks`` writes ``masks/<rel>.png`` and ``overlays/<rel>.png`` per 2D image and ``masks/<case>.nii.gz``
(with the source affine) per volume, ``<rel>`` being the input's path relative to the input folder (so
``a.png`` beside ``a.jpg`` or ``sub1/case.png`` beside ``sub2/case.png`` never share an output). nnU-Net channel
files ``case_0000``, ``case_0001``, ... are one case. It checks the output folder before any work, logs each
finished case to ``predictions.jsonl`` (``resume=True`` continues from it), replaces earlier outputs only with
``overwrite=True``, and skips (and lists) inputs it cannot read, so one bad file does not stop a batch.
``visionssm infer --task medical`` / ``tools/infer.py`` wrap it, taking the geometry from the config
(:func:`settings_from_config`).
"""
import itertools
import os
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from visionssm.infer.common import InferenceReport
from visionssm.infer.io import ImageReadError, read_image
from visionssm.infer.outputs import RunDir, output_name, overlay_mask

from .io import NIFTI_ENDINGS, UnreadableFileError, read_nifti, write_nifti

__all__ = ["sliding_window_inference", "predict_slices", "logits_to_labels", "write_masks", "InferenceReport",
           "group_cases", "settings_from_config", "PALETTE"]

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


PALETTE = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255],
                    [0, 255, 255], [255, 128, 0], [128, 0, 255], [0, 128, 255]], dtype=np.uint8)

_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


def _split_nifti(name: str) -> Tuple[str, str]:
    for end in NIFTI_ENDINGS:
        if name.endswith(end):
            return name[: -len(end)], end
    return name, ""


def group_cases(inputs: Sequence[os.PathLike], root: Optional[os.PathLike] = None) -> List[Tuple[str, List[str]]]:
    """``(case key, files)`` per case: a 2D image is its own case; NIfTI channel files ``<case>_0000``,
    ``<case>_0001``, ... in one folder are one case (channels in order), as :class:`NnUNetRawDataset` reads them.
    The key is the path relative to ``root`` (the case name for volumes: ``sub/case``, extension kept for 2D)."""
    groups: Dict[str, List[str]] = {}
    for p in map(Path, inputs):
        rel = p.relative_to(root) if root is not None else Path(p.name)
        stem, end = _split_nifti(p.name)
        if end:
            m = _CHANNEL.match(stem)
            key = (rel.parent / (m.group("case") if m else stem)).as_posix() + end
        else:
            key = rel.as_posix()
        groups.setdefault(key, []).append(str(p))
    return [(k, sorted(v)) for k, v in sorted(groups.items())]


def settings_from_config(cfg) -> Dict[str, Any]:
    """``write_masks`` keyword arguments that reproduce the config's test pipeline: the model's ``inference``
    (sliding window / slices) and the test dataset's resize and intensity normalisation."""
    inference = dict(cfg.model.get("inference") or {"mode": "whole"})
    loader = cfg.get("test_dataloader") or cfg.get("val_dataloader") or {}
    ds = dict(loader.get("dataset") or {})
    kind = str(ds.get("type", "")).rsplit(".", 1)[-1]
    out: Dict[str, Any] = {"threshold": cfg.model.get("threshold", 0.5),
                           "in_channels": dict(cfg.model.get("model") or {}).get("in_chans")}
    if kind == "ISICDataset":
        out.update(normalize="minmax", image_size=ds.get("size", 256), intensity_scale=ds.get("intensity_scale", 255.0))
    elif kind == "NnUNetRawDataset":
        out.update(normalize=ds.get("normalize", "zscore") or "none")
    elif kind == "SynapseDataset":
        out.update(normalize="unit", image_size=ds.get("size") or inference.get("size"))
    if inference.get("mode") == "slide":
        out.update(roi_size=tuple(inference["roi_size"]), overlap=inference.get("overlap", 0.5))
    elif inference.get("mode") == "slices":
        out.update(slices_size=inference.get("size"))
        out.setdefault("image_size", inference.get("size"))
    return out


def _normalise(x: np.ndarray, how: str, intensity_scale: float) -> np.ndarray:
    """(C, *S) float32: ``minmax`` over the whole image to [0, intensity_scale] (ISIC), ``zscore`` per channel
    (nnU-Net), ``unit`` (/255), ``none``."""
    if how == "minmax":
        return (x - x.min()) / max(float(x.max() - x.min()), 1e-8) * intensity_scale
    if how == "zscore":
        flat = x.reshape(x.shape[0], -1)
        shape = (-1,) + (1,) * (x.ndim - 1)
        return (x - flat.mean(1).reshape(shape)) / np.maximum(flat.std(1), 1e-8).reshape(shape)
    if how == "unit":
        return x / 255.0
    if how == "none":
        return x
    raise ValueError(f"normalize must be 'minmax', 'zscore', 'unit' or 'none', got {how!r}")


def _predict_2d(predict: Predictor, x: torch.Tensor, image_size: Optional[int], roi_size, overlap: float,
                size_divisor: int) -> torch.Tensor:
    """Logits at the input size for a (1, C, H, W) image: sliding window (2D ``roi_size``), resize to
    ``image_size`` and back, or zero-padding to a multiple of ``size_divisor`` and cropping back."""
    H, W = x.shape[-2:]
    if roi_size is not None:
        if len(roi_size) != 2:
            raise ValueError(f"the config's sliding window {tuple(roi_size)} is 3D; this input is a 2D image")
        return sliding_window_inference(x, roi_size, predict, overlap).float()
    if image_size is not None:
        logits = predict(F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False))
    else:
        ph, pw = (-H) % size_divisor, (-W) % size_divisor
        logits = predict(F.pad(x, (0, pw, 0, ph)) if ph or pw else x)[..., :H, :W]
    logits = logits.float()
    if logits.shape[-2:] != (H, W):
        logits = F.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False)
    return logits


def _out_name(key: str, taken: set) -> Tuple[Path, bool]:
    """(output path relative to ``masks/``, is a volume) for a case key."""
    stem, end = _split_nifti(key)
    if end:  # the extension tag keeps case.nii and case.nii.gz apart
        return output_name(Path(stem + "." + end.strip(".").replace(".", "_")), ".nii.gz", taken), True
    return output_name(Path(key), ".png", taken), False


def write_masks(predict: Predictor, inputs: Sequence[str], out_dir: str, overwrite: bool = False,
                image_size: Optional[int] = None, roi_size: Optional[Sequence[int]] = None, overlap: float = 0.5,
                threshold: float = 0.5, intensity_scale: float = 255.0, mask_scale: Optional[int] = None,
                device=None, *, resume: bool = False, root: Optional[str] = None, normalize: str = "minmax",
                in_channels: Optional[int] = None, slices_size: Optional[int] = None, size_divisor: int = 32,
                volume_normalize: str = "zscore") -> InferenceReport:
    """Predict and write a mask per input case.

    Args:
        predict: (B, C, *S) float tensor → (B, K, *S) logits (a model, or a lambda around one).
        inputs: 2D images (PNG/JPEG/...) and/or NIfTI volumes (channel files grouped: :func:`group_cases`).
        out_dir: 2D: ``masks/<rel>.png`` (label values × ``mask_scale``; default 255 for binary, 1 otherwise) and
            ``overlays/<rel>.png``; 3D: ``masks/<rel case>.nii.gz`` with the input's affine. ``predictions.jsonl``
            (a line per finished case) and ``predictions.json`` (summary at the end).
        overwrite: replace an earlier run's outputs; without it (or ``resume``) they raise ``FileExistsError``
            before anything is computed. resume: skip the cases already in ``predictions.jsonl``.
        root: the input folder output names are made relative to (default: the inputs' common folder).
        image_size: 2D images are resized to this square size for the model and the mask resized back; without
            it and without a 2D ``roi_size`` they are zero-padded to a multiple of ``size_divisor``.
        roi_size, overlap: sliding window (2D or 3D, matching the inputs). slices_size: volumes through a 2D
            model slice by slice, each resized to this size.
        normalize: 2D intensity: ``minmax`` to [0, ``intensity_scale``] (ISIC recipe), ``zscore`` per channel
            (nnU-Net), ``unit`` or ``none``; volumes use ``volume_normalize`` (nnU-Net z-score per channel).
        in_channels: channels the model takes: 2D images keep their first ``in_channels``; a volume case
            must have that many channel files.
    Returns an :class:`~visionssm.infer.InferenceReport` (written files, skipped inputs with the reason).
    """
    from PIL import Image

    if root is None and inputs:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in inputs])
        inputs = [os.path.abspath(p) for p in inputs]
    cases = group_cases(inputs, root)
    taken: set = set()
    names = {key: _out_name(key, taken) for key, _ in cases}
    planned = [Path("masks") / n for n, _ in names.values()] + [Path("overlays") / n for n, vol in names.values()
                                                               if not vol]
    run = RunDir(out_dir, planned, overwrite=overwrite, resume=resume)
    report = InferenceReport("medical segmentation", num_inputs=len(cases))
    todo = [(k, f) for k, f in cases if k not in run.done]
    report.num_resumed = len(cases) - len(todo)
    records = []
    for key, files in todo:
        name, is_volume = names[key]
        try:
            if is_volume:
                chans, affine = [], None
                for f in files:
                    arr, affine = read_nifti(f)
                    if chans and arr.shape != chans[0].shape:
                        raise ValueError(f"channel {f} has shape {arr.shape}, channel 0 has {chans[0].shape}")
                    chans.append(arr.astype(np.float32))
                if in_channels is not None and len(chans) != in_channels:
                    raise ValueError(f"{len(chans)} channel file(s) but the model takes {in_channels}: expected "
                                     f"<case>_0000 .. <case>_{in_channels - 1:04d} beside each other")
                x = torch.from_numpy(_normalise(np.stack(chans), volume_normalize, intensity_scale))[None]
                if device is not None:
                    x = x.to(device)
                with torch.no_grad():
                    if roi_size is not None and len(roi_size) == 2:  # a 2D model, windowed slice by slice
                        logits = predict_slices(x, lambda s: sliding_window_inference(s, roi_size, predict, overlap))
                    elif slices_size is not None:
                        logits = predict_slices(x, predict, slices_size)
                    elif roi_size is not None:
                        logits = sliding_window_inference(x, roi_size, predict, overlap)
                    else:
                        logits = predict(x)
                labels = logits_to_labels(logits, threshold)[0].cpu().numpy()
                rel = (Path("masks") / name).as_posix()
                report.written.append(run.save(rel, lambda tmp, lab=labels, aff=affine: write_nifti(lab, tmp, aff)))
                out_files = [rel]
            else:
                rgb = read_image(files[0])
                img = rgb.transpose(2, 0, 1).astype(np.float32)
                if in_channels is not None:
                    img = img[:in_channels]
                x = torch.from_numpy(np.ascontiguousarray(_normalise(img, normalize, intensity_scale)))[None]
                if device is not None:
                    x = x.to(device)
                with torch.no_grad():
                    logits = _predict_2d(predict, x, image_size, roi_size, overlap, size_divisor)
                labels = logits_to_labels(logits, threshold)[0].cpu().numpy()
                scale = mask_scale if mask_scale is not None else (255 if logits.shape[1] == 1 else 1)
                out_files = [(Path(sub) / name).as_posix() for sub in ("masks", "overlays")]
                mask = (labels * scale).astype(np.uint8)
                colours = np.resize(PALETTE, (max(int(labels.max()) + 1, 1), 3))
                report.written.append(run.save(out_files[0], Image.fromarray(mask).save))
                report.written.append(run.save(out_files[1], Image.fromarray(
                    overlay_mask(rgb, labels, colours, 0.5, ignore=(0,))).save))
        except (ImageReadError, UnreadableFileError, FileNotFoundError, ValueError) as e:
            report.fail(files[0] if len(files) == 1 else key, getattr(e, "reason", None) or str(e))
            continue
        rec = {"path": key, "inputs": files, "files": out_files, "shape": list(labels.shape),
               "labels_present": sorted(int(v) for v in np.unique(labels))}
        run.append([rec])
        records.append(rec)
        report.num_predicted = len(records)
    report.finish()
    new = {r["path"]: r for r in records}
    all_records = [new.get(k) or run.done[k] for k, _ in cases if k in new or k in run.done]
    report.written.append(run.write_json("predictions.json", {**report.as_dict(), "predictions": all_records}))
    return report
