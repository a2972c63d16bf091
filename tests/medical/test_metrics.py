"""Metrics against values computed by hand on small known masks."""
import math

import numpy as np
import pytest

from visionssm.medical.metrics import SegMetricAccumulator, confusion_counts, hd95

# 4x4 ground truth with a 2x2 object; prediction = the object shifted one column right (2 of 4 pixels overlap)
GT = np.zeros((4, 4), int)
GT[1:3, 1:3] = 1
PRED = np.zeros((4, 4), int)
PRED[1:3, 2:4] = 1


def test_confusion_and_ratios_by_hand():
    counts = confusion_counts(PRED, GT, 2)
    # class 1: TP 2 (overlap), FP 2, FN 2, TN 16 - 6 = 10; class 0 mirrors it
    assert counts[1].tolist() == [2, 2, 2, 10]
    assert counts[0].tolist() == [10, 2, 2, 2]
    acc = SegMetricAccumulator(2, ["bg", "fg"], compute_hd95=False)
    acc.add(PRED, GT)
    r = acc.compute()
    assert r["Dice.fg"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 2))  # 0.5
    assert r["IoU.fg"] == pytest.approx(2 / 6)
    assert r["Sensitivity.fg"] == pytest.approx(2 / 4)
    assert r["Specificity.fg"] == pytest.approx(10 / 12)
    assert r["mDice"] == r["Dice.fg"] and "Dice.bg" not in r


def test_hd95_by_hand():
    # identical masks: 0
    assert hd95(GT, GT) == 0.0
    # every surface pixel of the shifted square is at distance 0 or 1 from the other surface
    # pred surface {(1,2),(1,3),(2,2),(2,3)}: distances to gt surface {(1,1),(1,2),(2,1),(2,2)} = 0,1,0,1; symmetric
    # -> 8 distances [0,1,0,1,0,1,0,1]; numpy's 95th percentile (linear) = 1.0
    assert hd95(PRED, GT) == pytest.approx(1.0)
    # single pixels 3 apart on a row: both surfaces are the pixels themselves -> 3; with spacing 2 along x -> 6
    a = np.zeros((1, 8), bool)
    b = np.zeros((1, 8), bool)
    a[0, 1] = True
    b[0, 4] = True
    assert hd95(a, b) == pytest.approx(3.0)
    assert hd95(a, b, spacing=(1.0, 2.0)) == pytest.approx(6.0)
    assert math.isnan(hd95(a, np.zeros_like(b)))


def test_hd95_percentile_not_max():
    # 3D: a 3x3x3 cube vs the same cube plus one far voxel: the max distance is large, the 95th percentile small
    gt = np.zeros((12, 12, 12), bool)
    gt[2:5, 2:5, 2:5] = True
    pred = gt.copy()
    pred[11, 11, 11] = True
    d = hd95(pred, gt)
    far = np.sqrt(3 * 7 ** 2)
    assert d < far
    # 26 cube-surface voxels match exactly in both directions (52 zeros); the far voxel adds one distance
    expected = np.percentile(np.r_[np.zeros(2 * 26), far], 95)
    assert d == pytest.approx(expected)


def test_multiclass_means_and_pooled():
    gt1 = np.array([[0, 1], [2, 2]])
    pr1 = np.array([[0, 1], [2, 1]])
    gt2 = np.array([[1, 1], [0, 0]])
    pr2 = np.array([[1, 1], [0, 0]])
    acc = SegMetricAccumulator(3, compute_hd95=False)
    acc.add(pr1, gt1)
    acc.add(pr2, gt2)
    r = acc.compute()
    # case 1: class1 TP1 FP1 FN0 -> dice 2/3; class2 TP1 FP0 FN1 -> 2/3. case 2: class1 dice 1, class2 absent (NaN)
    assert r["Dice.1"] == pytest.approx((2 / 3 + 1) / 2)
    assert r["Dice.2"] == pytest.approx(2 / 3)
    assert r["mDice"] == pytest.approx(((2 / 3 + 1) / 2 + 2 / 3) / 2)
    # pooled class 1: TP 3 FP 1 FN 0 -> 6/7; class 2: TP1 FP0 FN1 -> 2/3
    assert r["pooled_Dice"] == pytest.approx((6 / 7 + 2 / 3) / 2)


def test_label_out_of_range_raises():
    acc = SegMetricAccumulator(2)
    with pytest.raises(ValueError, match=r"label values \[3\]"):
        acc.add(np.zeros((2, 2), int), np.full((2, 2), 3))


def _absent_cases():
    """Three 4x4 cases, classes bg / 1 / 2, built so that every absent-class situation occurs once."""
    a_gt, a_pr = np.zeros((4, 4), int), np.zeros((4, 4), int)
    a_gt[1:3, 1:3], a_pr[1:3, 2:4] = 1, 1  # class 1: the shifted square (Dice 0.5, HD95 1.0)
    a_pr[0, 0] = 2  # class 2: predicted, not in the ground truth
    b_gt = np.zeros((4, 4), int)
    b_gt[2:4, 2:4] = 2  # class 1 absent from both; class 2 exact
    c_gt = np.zeros((4, 4), int)
    c_gt[0:2, 0:2] = 1  # class 1 missed entirely; class 2 absent from both
    return [(a_pr, a_gt), (b_gt.copy(), b_gt), (np.zeros((4, 4), int), c_gt)]


@pytest.mark.parametrize("absent, expected", [
    # NaN convention: per case (dice1, dice2 | hd1, hd2) = A (0.5, 0 | 1, nan), B (nan, 1 | nan, 0), C (0, nan | nan, nan)
    ("nan", {"Dice.1": 0.25, "Dice.2": 0.5, "mDice": 0.375, "HD95.1": 1.0, "HD95.2": 0.0, "mHD95": 0.5}),
    # TransUNet: A (0.5, 1 | 1, 0), B (0, 1 | 0, 0), C (0, 0 | 0, 0): every case counts
    ("transunet", {"Dice.1": 1 / 6, "Dice.2": 2 / 3, "mDice": 5 / 12, "HD95.1": 1 / 3, "HD95.2": 0.0, "mHD95": 1 / 6}),
])
def test_absent_class_protocols_by_hand(absent, expected):
    acc = SegMetricAccumulator(3, absent=absent)
    for pred, gt in _absent_cases():
        acc.add(pred, gt)
    r = acc.compute()
    assert {k: r[k] for k in expected} == pytest.approx(expected)
    # the protocol changes only Dice and HD95: IoU of class 2 stays NaN in case C (0 in A, 1 in B)
    assert r["IoU.2"] == pytest.approx((0.0 + 1.0) / 2)


def test_absent_protocol_through_the_mm_metric():
    pytest.importorskip("mmengine")
    import torch

    from visionssm.medical.mm import MedSegMetric
    metric = MedSegMetric(num_classes=3, absent="transunet")
    metric.process(None, [{"pred_label": torch.from_numpy(p), "label": torch.from_numpy(g)} for p, g in _absent_cases()])
    r = metric.compute_metrics(metric.results)
    assert r["mDice"] == pytest.approx(5 / 12) and r["mHD95"] == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="absent='nnunet'.*'transunet'"):
        MedSegMetric(num_classes=3, absent="nnunet")
