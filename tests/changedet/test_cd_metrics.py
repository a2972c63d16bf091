"""Metrics against values worked out by hand from small confusion matrices (the arithmetic is in the comments)."""
import math

import numpy as np
import pytest
import torch

from visionssm.changedet.metrics import (
    BinaryChangeMeter,
    DamageMeter,
    SemanticChangeMeter,
    binary_change_metrics,
    confusion_matrix,
    semantic_change_metrics,
)


def test_binary_metrics_hand_computed():
    # 11 pixels; the last one is ignored (255)
    target = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 255])
    pred = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1])
    cm = confusion_matrix(pred, target, 2)
    # rows = GT: TN=4 FP=2 / FN=1 TP=3
    assert cm.tolist() == [[4, 2], [1, 3]]
    m = binary_change_metrics(cm)
    assert m["precision"] == pytest.approx(3 / 5)  # TP/(TP+FP)
    assert m["recall"] == pytest.approx(3 / 4)  # TP/(TP+FN)
    assert m["f1"] == pytest.approx(2 / 3)  # 2·0.6·0.75/1.35
    assert m["iou"] == pytest.approx(0.5)  # 3/(3+2+1)
    assert m["oa"] == pytest.approx(0.7)  # 7/10
    # po=0.7; GT rows (6,4), pred cols (5,5): pe=(6·5+4·5)/100=0.5; kappa=(0.7-0.5)/0.5
    assert m["kappa"] == pytest.approx(0.4)


def test_binary_meter_accumulates_batches_and_tensors():
    meter = BinaryChangeMeter()
    meter.update(torch.tensor([[0, 1], [1, 1]]), torch.tensor([[0, 0], [1, 1]]))
    meter.update(np.array([0, 0]), np.array([1, 0]))
    assert meter.cm.tolist() == [[2, 1], [1, 2]]
    assert meter.compute()["f1"] == pytest.approx(2 / 3)


def test_binary_metrics_empty_classes_are_zero_not_nan():
    m = binary_change_metrics(np.array([[5, 0], [0, 0]]))
    assert m["precision"] == 0.0 and m["f1"] == 0.0 and m["iou"] == 0.0 and m["oa"] == 1.0 and m["kappa"] == 0.0


def test_semantic_metrics_hand_computed():
    gt = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 2, 2, 0])
    hist = confusion_matrix(pred, gt, 3)
    assert hist.tolist() == [[3, 1, 0], [0, 1, 1], [1, 0, 1]]
    m = semantic_change_metrics(hist)
    assert m["oa"] == pytest.approx(5 / 8)  # trace 3+1+1 over 8
    # collapsed 2x2: TN=3, FP=1 (GT 0 → changed), FN=1 (GT changed → 0), TP=3
    assert m["iou_change"] == pytest.approx(3 / 5)
    assert m["miou"] == pytest.approx((3 / 5 + 3 / 5) / 2)
    # (0,0) zeroed: [[0,1,0],[0,1,1],[1,0,1]], n=5, po=2/5, rows=cols=(1,2,2): pe=9/25 → kappa=0.04/0.64
    assert m["kappa_n0"] == pytest.approx(0.0625)
    assert m["sek"] == pytest.approx(0.0625 * math.exp(0.6 - 1.0))  # = 0.041895...
    assert m["sek"] == pytest.approx(0.0418950029, abs=1e-9)
    # SC_TP = diag(hist[1:,1:]) = 2; predicted changed 4, GT changed 4 → P=R=0.5
    assert m["fscd"] == pytest.approx(0.5)


def test_semantic_meter_masks_predictions_by_change():
    # one 1x4 image; pooled over both dates it gives the 3-class matrix above (padded to 7 classes)
    change = torch.tensor([[0, 1, 1, 1]])
    sem_from = torch.tensor([[5, 1, 1, 2]])  # pixel 0 is unchanged, its class is masked to 0
    sem_to = torch.tensor([[3, 0, 2, 0]])
    gt_change = torch.tensor([[0, 0, 1, 1]])
    gt_from = torch.tensor([[0, 0, 1, 2]])
    gt_to = torch.tensor([[0, 0, 1, 2]])
    meter = SemanticChangeMeter(7)
    meter.update(change, sem_from, sem_to, gt_change, gt_from, gt_to)
    assert meter.hist[:3, :3].tolist() == [[3, 1, 0], [0, 1, 1], [1, 0, 1]] and meter.hist.sum() == 8
    m = meter.compute()
    assert m["sek"] == pytest.approx(0.0625 * math.exp(-0.4))
    assert m["fscd"] == pytest.approx(0.5)
    assert m["miou"] == pytest.approx(0.6)
    # binary part: GT [0,0,1,1] vs pred [0,1,1,1]: TN=1 FP=1 TP=2 → P=2/3, R=1, F1=0.8
    assert m["cd_f1"] == pytest.approx(0.8)


def test_perfect_semantic_prediction_scores_one():
    gt = np.array([0, 0, 3, 4, 6, 1])
    m = semantic_change_metrics(confusion_matrix(gt, gt, 7))
    assert m["sek"] == pytest.approx(1.0) and m["fscd"] == pytest.approx(1.0) and m["miou"] == pytest.approx(1.0)


def test_damage_metrics_hand_computed():
    gt_loc = torch.tensor([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    loc = torch.tensor([0, 1, 1, 1, 1, 1, 1, 1, 1, 0])
    gt_damage = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    damage = torch.tensor([3, 3, 1, 1, 2, 3, 3, 3, 4, 1])  # the first two are off-building: not scored
    meter = DamageMeter()
    meter.update(loc, damage, gt_loc, gt_damage)
    m = meter.compute()
    assert m["f1_loc"] == pytest.approx(0.875)  # TP=7 FP=1 FN=1 → P=R=7/8
    # on buildings: class1 P=2/3 R=1 → 0.8; class2 P=1 R=1/2 → 2/3; class3 P=2/3 R=1 → 0.8; class4 → 2/3
    assert m["f1_no_damage"] == pytest.approx(0.8)
    assert m["f1_minor_damage"] == pytest.approx(2 / 3)
    assert m["f1_major_damage"] == pytest.approx(0.8)
    assert m["f1_destroyed"] == pytest.approx(2 / 3)
    assert m["f1_clf"] == pytest.approx(4 / 5.5)  # harmonic mean: 4/(1.25+1.5+1.25+1.5)
    assert m["f1_oa"] == pytest.approx(0.3 * 0.875 + 0.7 * 8 / 11)


def test_confusion_matrix_rejects_bad_predictions():
    with pytest.raises(ValueError, match="predicted labels"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="differ in size"):
        confusion_matrix(np.array([0, 1, 1]), np.array([0, 1]), 2)
