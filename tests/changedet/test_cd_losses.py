"""Lovász-softmax (our own implementation) and the ChangeMamba loss compositions."""
import pytest
import torch
import torch.nn.functional as F

from visionssm.changedet.losses import bcd_loss, bda_loss, lovasz_softmax, scd_loss, total_loss


def _one_hot(pred, num_classes):
    return F.one_hot(pred, num_classes).permute(0, 3, 1, 2).float()


def test_lovasz_on_hard_probabilities_is_one_minus_iou():
    labels = torch.tensor([[[0, 0, 1, 1, 255]]])
    pred = torch.tensor([[[0, 1, 1, 1, 0]]])  # the ignored pixel's prediction must not count
    loss = lovasz_softmax(_one_hot(pred, 2), labels)
    # class 0: I=1, U=2 → 1-1/2; class 1: I=2, U=3 → 1-2/3; mean over present classes
    assert loss.item() == pytest.approx((0.5 + 1 / 3) / 2)


def test_lovasz_perfect_is_zero_and_absent_classes_skipped():
    labels = torch.tensor([[[0, 2], [2, 0]]])
    assert lovasz_softmax(_one_hot(labels, 3), labels).item() == pytest.approx(0.0)
    # class 1 absent from labels: "present" ignores it, "all" counts its false positive (IoU 0 → loss 1)
    pred = torch.tensor([[[0, 2], [2, 1]]])
    present = lovasz_softmax(_one_hot(pred, 3), labels).item()
    allc = lovasz_softmax(_one_hot(pred, 3), labels, classes="all").item()
    assert present == pytest.approx(((1 - 1 / 2) + 0.0) / 2)  # class 0: I=1 U=2; class 2: perfect
    assert allc == pytest.approx(((1 - 1 / 2) + 1.0 + 0.0) / 3)


def test_lovasz_is_differentiable_and_decreases_under_gradient_steps():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (2, 8, 8))
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.3)
    first = None
    for _ in range(30):
        loss = lovasz_softmax(F.softmax(logits, 1), labels)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_per_image_equals_mean_of_single_images():
    torch.manual_seed(1)
    probs = F.softmax(torch.randn(3, 2, 5, 5), 1)
    labels = torch.randint(0, 2, (3, 5, 5))
    per = lovasz_softmax(probs, labels, per_image=True)
    singles = torch.stack([lovasz_softmax(probs[i:i + 1], labels[i:i + 1]) for i in range(3)]).mean()
    assert per.item() == pytest.approx(singles.item())


def test_bcd_loss_matches_formula():
    torch.manual_seed(2)
    logits = torch.randn(2, 2, 6, 6)
    gt = torch.randint(0, 2, (2, 6, 6))
    gt[0, 0, 0] = 255
    parts = bcd_loss(logits, gt)
    expected = F.cross_entropy(logits, gt, ignore_index=255) + 0.75 * lovasz_softmax(F.softmax(logits, 1), gt)
    assert total_loss(parts).item() == pytest.approx(expected.item(), rel=1e-6)


def test_scd_loss_matches_formula_and_ignores_no_change():
    torch.manual_seed(3)
    cd, s1, s2 = torch.randn(1, 2, 4, 4), torch.randn(1, 7, 4, 4), torch.randn(1, 7, 4, 4)
    gt_from = torch.randint(0, 7, (1, 4, 4))
    gt_to = torch.randint(0, 7, (1, 4, 4))
    gt = (gt_from != 0).long()
    t1 = torch.where(gt_from == 0, 255, gt_from)
    t2 = torch.where(gt_to == 0, 255, gt_to)
    mask = (t1 == 255).float().unsqueeze(1)
    sim = F.mse_loss(F.softmax(s1, 1) * mask, F.softmax(s2, 1) * mask)

    def lov(x, y):
        return lovasz_softmax(F.softmax(x, 1), y)

    expected = (F.cross_entropy(cd, gt) + 0.5 * (F.cross_entropy(s1, t1, ignore_index=255)
                                                  + F.cross_entropy(s2, t2, ignore_index=255) + 0.5 * sim)
                + 0.75 * (lov(cd, gt) + 0.5 * (lov(s1, t1) + lov(s2, t2))))
    assert total_loss(scd_loss(cd, s1, s2, gt, gt_from, gt_to)).item() == pytest.approx(expected.item(), rel=1e-6)


def test_bda_loss_without_buildings_is_finite():
    loc, dmg = torch.randn(1, 2, 4, 4, requires_grad=True), torch.randn(1, 5, 4, 4, requires_grad=True)
    parts = bda_loss(loc, dmg, torch.zeros(1, 4, 4, dtype=torch.long), torch.zeros(1, 4, 4, dtype=torch.long))
    total = total_loss(parts)
    assert torch.isfinite(total)
    total.backward()
    assert parts["loss_damage_ce"].item() == 0.0
