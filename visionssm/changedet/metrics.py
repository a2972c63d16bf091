"""Change-detection metrics with the exact definitions ChangeMamba reports.

Every metric is a function of an accumulated confusion matrix whose **rows are ground truth and columns
are predictions**; pixels whose ground truth is outside ``[0, num_classes)`` (e.g. 255) are not counted.
A ratio with a zero denominator is 0.0 (never NaN), so an empty class cannot poison a log.

- Binary (``Evaluator`` of MambaCD): precision TP/(TP+FP), recall TP/(TP+FN), F1 = 2PR/(P+R),
  IoU = TP/(TP+FP+FN) of the *changed* class, OA = trace/N, Kappa = (po - pe)/(1 - pe), pe = Σ row·col / N².
- Semantic (SECOND, ``SCDD_eval_all``): one 7×7 matrix pooled over both dates of the change-masked
  semantic maps (0 = no change). mIoU = mean(IoU_nochange, IoU_change) of the matrix collapsed to 2×2;
  Kappa_n0 = Kappa with the (0, 0) cell zeroed; SeK = Kappa_n0 · e^(IoU_change) / e;
  F_scd = harmonic mean of SC_precision = Σdiag(hist[1:,1:]) / #pred-changed and
  SC_recall = Σdiag(hist[1:,1:]) / #gt-changed; OA = trace/N of the 7×7 matrix.
- Damage (xBD): F1_loc = binary F1 of buildings; per-class F1 of damage classes 1..4 computed on ground-truth
  building pixels; F1_clf = harmonic mean of the four; F1_oa = 0.3·F1_loc + 0.7·F1_clf.
"""
import math
from typing import Dict, Sequence

import numpy as np
import torch

DAMAGE_CLASSES = ("no_damage", "minor_damage", "major_damage", "destroyed")


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def confusion_matrix(pred, target, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) int64 counts, rows = ground truth, columns = prediction.

    ``pred``/``target`` are integer arrays or tensors of the same shape; ground-truth values outside
    ``[0, num_classes)`` (the ignore index 255) are skipped.
    """
    if isinstance(pred, torch.Tensor):
        pred = pred.detach().cpu().numpy()
    if isinstance(target, torch.Tensor):
        target = target.detach().cpu().numpy()
    pred = np.asarray(pred).astype(np.int64).ravel()
    target = np.asarray(target).astype(np.int64).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"prediction and target differ in size: {pred.size} vs {target.size} pixels")
    keep = (target >= 0) & (target < num_classes)
    pred, target = pred[keep], target[keep]
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f"predicted labels must lie in [0, {num_classes}); got range [{pred.min()}, {pred.max()}]")
    return np.bincount(target * num_classes + pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def kappa(cm: np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix; 0.0 when it is empty or chance agreement is 1."""
    n = cm.sum()
    if n == 0:
        return 0.0
    po = np.trace(cm) / n
    pe = float((cm.sum(0).astype(np.float64) * cm.sum(1)).sum()) / float(n) ** 2
    return 0.0 if pe == 1 else float((po - pe) / (1 - pe))


def binary_change_metrics(cm: np.ndarray) -> Dict[str, float]:
    """Precision, recall, F1, IoU (changed class), OA and Kappa from a 2×2 matrix (rows = GT)."""
    if cm.shape != (2, 2):
        raise ValueError(f"binary change metrics need a 2x2 confusion matrix, got {cm.shape}")
    tn, fp, fn, tp = (float(v) for v in cm.ravel())
    precision, recall = _div(tp, tp + fp), _div(tp, tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _div(2 * precision * recall, precision + recall),
        "iou": _div(tp, tp + fp + fn),
        "oa": _div(tp + tn, cm.sum()),
        "kappa": kappa(cm),
    }


def semantic_change_metrics(hist: np.ndarray) -> Dict[str, float]:
    """OA, mIoU, SeK, F_scd (and Kappa_n0, IoU of change) from the pooled semantic matrix (rows = GT, 0 = no change)."""
    hist = hist.astype(np.float64)
    n = hist.sum()
    tn = hist[0, 0]
    fp = hist[0, 1:].sum()  # GT unchanged, predicted changed
    fn = hist[1:, 0].sum()  # GT changed, predicted unchanged
    tp = hist[1:, 1:].sum()  # changed in both (any classes)
    iou_nochange = _div(tn, tn + fp + fn)
    iou_change = _div(tp, tp + fp + fn)
    hist_n0 = hist.copy()
    hist_n0[0, 0] = 0
    kappa_n0 = kappa(hist_n0)
    sc_tp = np.trace(hist[1:, 1:])
    sc_precision = _div(sc_tp, n - hist[:, 0].sum())  # pixels predicted changed
    sc_recall = _div(sc_tp, n - hist[0, :].sum())  # pixels changed in the ground truth
    return {
        "oa": _div(np.trace(hist), n),
        "miou": (iou_nochange + iou_change) / 2,
        "sek": kappa_n0 * math.exp(iou_change) / math.e,
        "fscd": _div(2 * sc_precision * sc_recall, sc_precision + sc_recall),
        "kappa_n0": kappa_n0,
        "iou_change": iou_change,
        "sc_precision": sc_precision,
        "sc_recall": sc_recall,
    }


def damage_metrics(loc_cm: np.ndarray, damage_cm: np.ndarray) -> Dict[str, float]:
    """xBD scores: F1_loc, F1 per damage class, F1_clf (harmonic mean) and F1_oa = 0.3·F1_loc + 0.7·F1_clf.

    ``loc_cm`` is 2×2 over all pixels; ``damage_cm`` is 5×5 (0 = background) over ground-truth building pixels.
    """
    out = {"f1_loc": binary_change_metrics(loc_cm)["f1"]}
    f1s = []
    for c, name in enumerate(DAMAGE_CLASSES, start=1):
        tp = float(damage_cm[c, c])
        precision = _div(tp, damage_cm[:, c].sum())
        recall = _div(tp, damage_cm[c, :].sum())
        f1 = _div(2 * precision * recall, precision + recall)
        out[f"f1_{name}"] = f1
        f1s.append(f1)
    out["f1_clf"] = 0.0 if min(f1s) == 0 else len(f1s) / sum(1.0 / f for f in f1s)
    out["f1_oa"] = 0.3 * out["f1_loc"] + 0.7 * out["f1_clf"]
    return out


class BinaryChangeMeter:
    """Accumulates a 2×2 matrix over batches; ``compute()`` gives :func:`binary_change_metrics`."""

    def __init__(self):
        self.cm = np.zeros((2, 2), np.int64)

    def update(self, pred, target) -> None:
        self.cm += confusion_matrix(pred, target, 2)

    def compute(self) -> Dict[str, float]:
        return binary_change_metrics(self.cm)


class SemanticChangeMeter:
    """SECOND-style SCD scores. ``update`` takes the change map and both dates' semantic maps.

    Predicted semantic maps are masked by the predicted change (unchanged → 0) before counting, as in
    ChangeMamba; ground-truth semantic maps already carry 0 on unchanged pixels. Binary change scores of
    the change map are reported too (prefixed ``cd_``).
    """

    def __init__(self, num_classes: int = 7):
        self.num_classes = num_classes
        self.hist = np.zeros((num_classes, num_classes), np.int64)
        self.binary = BinaryChangeMeter()

    def update(self, change, sem_from, sem_to, gt_change, gt_from, gt_to) -> None:
        change = torch.as_tensor(change)
        self.binary.update(change, gt_change)
        for sem, gt in ((sem_from, gt_from), (sem_to, gt_to)):
            sem = torch.as_tensor(sem) * (change > 0).to(torch.as_tensor(sem).dtype)
            self.hist += confusion_matrix(sem, gt, self.num_classes)

    def compute(self) -> Dict[str, float]:
        out = semantic_change_metrics(self.hist)
        out.update({f"cd_{k}": v for k, v in self.binary.compute().items()})
        return out


class DamageMeter:
    """xBD scores: localisation on all pixels, damage on ground-truth building pixels (``gt_loc > 0``)."""

    def __init__(self, num_damage_classes: int = 5):
        self.loc_cm = np.zeros((2, 2), np.int64)
        self.damage_cm = np.zeros((num_damage_classes,) * 2, np.int64)

    def update(self, loc, damage, gt_loc, gt_damage) -> None:
        loc, damage, gt_loc, gt_damage = (torch.as_tensor(t) for t in (loc, damage, gt_loc, gt_damage))
        self.loc_cm += confusion_matrix(loc, gt_loc, 2)
        building = (gt_loc > 0) & (gt_loc != 255)
        self.damage_cm += confusion_matrix(damage[building], gt_damage[building], self.damage_cm.shape[0])

    def compute(self) -> Dict[str, float]:
        return damage_metrics(self.loc_cm, self.damage_cm)


def format_metrics(metrics: Dict[str, float], keys: Sequence[str] = ()) -> str:
    """'f1=81.29 iou=68.48 ...' in percent, for logs and reports."""
    keys = keys or list(metrics)
    return " ".join(f"{k}={100 * metrics[k]:.2f}" for k in keys)
