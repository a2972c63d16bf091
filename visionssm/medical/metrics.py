"""Segmentation metrics: Dice, IoU, sensitivity, specificity, HD95 — per class and mean, per case and pooled.

Definitions (per class c, from the confusion counts of ``pred == c`` vs ``gt == c``):
``Dice = 2TP / (2TP + FP + FN)``, ``IoU = TP / (TP + FP + FN)``, ``sensitivity = TP / (TP + FN)``,
``specificity = TN / (TN + FP)``; a ratio whose denominator is 0 (class absent from both) is NaN and left out of
means. HD95 follows medpy's ``hd95`` (used by TransUNet / VM-UNet for Synapse): the 95th percentile of the
symmetric surface distances, surfaces = mask XOR its erosion with a connectivity-1 structuring element,
distances from ``scipy.ndimage.distance_transform_edt`` (in voxels unless ``spacing`` is given); NaN when
either mask is empty.

Classes missing from a case (``absent``): by default a Dice, IoU, ... with a zero denominator and an HD95 with an
empty mask are NaN and left out of the means, so a case only counts for the classes it can measure.
``absent='transunet'`` scores Dice and HD95 the way TransUNet's and VM-UNet's Synapse evaluation does
(``calculate_metric_percase``), so every case counts for every class: both masks non-empty → the measured values;
prediction non-empty but ground truth empty → Dice 1, HD95 0; prediction empty → Dice 0, HD95 0 (whether or not
the ground truth is empty). IoU, sensitivity and specificity keep the NaN convention (that protocol defines none).

``SegMetricAccumulator`` gives both aggregations found in the anchors: the mean over cases (Synapse, nnU-Net)
and the pixel-pooled value over the whole set (VM-UNet's ISIC numbers, where "mIoU" is the foreground IoU).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ["confusion_counts", "ratios_from_counts", "hd95", "case_metrics", "SegMetricAccumulator", "ABSENT_PROTOCOLS"]

ABSENT_PROTOCOLS = ("nan", "transunet")


def confusion_counts(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, 4) array of TP, FP, FN, TN per class for integer label maps of equal shape."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground-truth shape {gt.shape}")
    n = pred.size
    idx = gt.astype(np.int64).ravel() * num_classes + pred.astype(np.int64).ravel()
    cm = np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)  # [gt, pred]
    tp = np.diag(cm)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    tn = n - tp - fp - fn
    return np.stack([tp, fp, fn, tn], axis=1).astype(np.int64)


def _div(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b > 0)
    return out


def ratios_from_counts(counts: np.ndarray) -> Dict[str, np.ndarray]:
    tp, fp, fn, tn = counts.T
    return {"dice": _div(2 * tp, 2 * tp + fp + fn), "iou": _div(tp, tp + fp + fn), "sensitivity": _div(tp, tp + fn),
                "specificity": _div(tn, tn + fp)}


def _surface(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage
    footprint = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask ^ ndimage.binary_erosion(mask, structure=footprint, iterations=1)


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: Optional[Sequence[float]] = None) -> float:
    """95th-percentile symmetric Hausdorff distance between two binary masks (medpy ``hd95`` semantics)."""
    from scipy import ndimage  # scipy: imported only when HD95 is computed

    pred, gt = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground-truth shape {gt.shape}")
    if not pred.any() or not gt.any():
        return float("nan")
    sp, sg = _surface(pred), _surface(gt)
    d_pg = ndimage.distance_transform_edt(~sg, sampling=spacing)[sp]
    d_gp = ndimage.distance_transform_edt(~sp, sampling=spacing)[sg]
    return float(np.percentile(np.concatenate([d_pg, d_gp]), 95))


def _check_absent(absent: str) -> str:
    if absent not in ABSENT_PROTOCOLS:
        raise ValueError(f"absent={absent!r}: use 'nan' (classes missing from a case are left out of the means) or "
                         "'transunet' (TransUNet / VM-UNet Synapse scoring)")
    return absent


def case_metrics(pred: np.ndarray, gt: np.ndarray, num_classes: int, compute_hd95: bool = True,
                 spacing: Optional[Sequence[float]] = None, absent: str = "nan"):
    """``(counts (K, 4), {metric: (K,) array})`` for one case; ``absent`` as in the module docstring."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    counts = confusion_counts(pred, gt, num_classes)
    case = ratios_from_counts(counts)
    if compute_hd95:
        case["hd95"] = np.array([hd95(pred == c, gt == c, spacing) for c in range(num_classes)])
    if _check_absent(absent) == "transunet":
        tp, fp, fn, _ = counts.T
        in_pred, in_gt = tp + fp > 0, tp + fn > 0
        both = in_pred & in_gt
        case["dice"] = np.where(both, case["dice"], np.where(in_pred, 1.0, 0.0))
        if compute_hd95:
            case["hd95"] = np.where(both, case["hd95"], 0.0)
    return counts, case


class SegMetricAccumulator:
    """Collects per-case metrics and pooled confusion counts.

    Args:
        num_classes: label values 0..K-1 (binary: 2). class_names: for the per-class keys.
        include_background: report class 0 as well (default: foreground classes only).
        compute_hd95: HD95 per case and class (the slowest part; off for quick validation).
        absent: ``'nan'`` (default) or ``'transunet'``: how a class missing from a case's prediction or ground
            truth is scored (module docstring).
    """

    def __init__(self, num_classes: int, class_names: Optional[Sequence[str]] = None,
                 include_background: bool = False, compute_hd95: bool = True, absent: str = "nan"):
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names else [str(c) for c in range(num_classes)]
        if len(self.class_names) != num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {num_classes} classes")
        self.first = 0 if include_background else 1
        self.compute_hd95 = compute_hd95
        self.absent = _check_absent(absent)
        self.reset()

    def reset(self) -> None:
        self.pooled = np.zeros((self.num_classes, 4), np.int64)
        self.cases: List[Dict[str, np.ndarray]] = []

    def add(self, pred: np.ndarray, gt: np.ndarray, spacing: Optional[Sequence[float]] = None) -> Dict[str, np.ndarray]:
        pred, gt = np.asarray(pred), np.asarray(gt)
        bad = np.setdiff1d(np.unique(gt), np.arange(self.num_classes))
        if bad.size:
            raise ValueError(f"ground truth has label values {bad.tolist()} outside 0..{self.num_classes - 1}")
        counts, case = case_metrics(pred, gt, self.num_classes, self.compute_hd95, spacing, self.absent)
        self.pooled += counts
        self.cases.append(case)
        return case

    def compute(self) -> Dict[str, float]:
        """``mDice``, ``mIoU``, ``mSensitivity``, ``mSpecificity``, ``mHD95`` (means over cases, then classes),
        ``<Metric>.<class>`` per class, and ``pooled_<Metric>`` from the summed counts."""
        out: Dict[str, float] = {}
        if not self.cases:
            return out
        names = ["dice", "iou", "sensitivity", "specificity"] + (["hd95"] if self.compute_hd95 else [])
        labels = {"dice": "Dice", "iou": "IoU", "sensitivity": "Sensitivity", "specificity": "Specificity", "hd95": "HD95"}
        classes = range(self.first, self.num_classes)
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                for m in names:
                    per_class = np.nanmean(np.stack([c[m] for c in self.cases]), axis=0)
                    for c in classes:
                        out[f"{labels[m]}.{self.class_names[c]}"] = float(per_class[c])
                    out[f"m{labels[m]}"] = float(np.nanmean(per_class[self.first:]))
                pooled = ratios_from_counts(self.pooled)
                for m in ("dice", "iou", "sensitivity", "specificity"):
                    out[f"pooled_{labels[m]}"] = float(np.nanmean(pooled[m][self.first:]))
        return out
