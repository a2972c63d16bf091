"""Losses against hand-computed values."""
import math

import pytest
import torch
import torch.nn.functional as F

from visionssm.medical.losses import BceDiceLoss, CeDiceLoss, build_loss


def test_bce_dice_by_hand():
    logits = torch.tensor([[[[0.0, 2.0], [-2.0, 0.0]]]])
    target = torch.tensor([[[0, 1], [0, 1]]])
    p = torch.sigmoid(logits).flatten()
    t = target.flatten().float()
    bce = -(t * p.log() + (1 - t) * (1 - p).log()).mean()
    dice = (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
    assert BceDiceLoss()(logits, target).item() == pytest.approx((bce + 1 - dice).item(), rel=1e-6)
    # p = [.5, .881, .119, .5]: dice = (2*1.381+1)/(2+2+1)
    assert dice.item() == pytest.approx((2 * (0.5 + 1 / (1 + math.exp(-2))) + 1) / 5, rel=1e-6)


def test_ce_dice_by_hand_and_perfect():
    logits = torch.zeros(1, 3, 2, 2)
    target = torch.tensor([[[0, 1], [2, 2]]])
    loss = CeDiceLoss(3, weights=(1.0, 1.0), dice_square=True)(logits, target)
    # uniform softmax: CE = log 3; class c dice = (2*n_c/3 + s)/(4/9 + n_c + s) with n = (1, 1, 2)
    s = 1e-5
    dices = [(2 * n / 3 + s) / (4 / 9 + n + s) for n in (1, 1, 2)]
    assert loss.item() == pytest.approx(math.log(3) + 1 - sum(dices) / 3, rel=1e-5)
    perfect = F.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert CeDiceLoss(3)(perfect, target).item() == pytest.approx(0.0, abs=1e-4)
    nn_dice = CeDiceLoss(3, include_background=False, dice_square=False)(logits, target)
    dices = [(2 * n / 3 + s) / (4 / 3 + n + s) for n in (1, 2)]
    assert nn_dice.item() == pytest.approx(math.log(3) + 1 - sum(dices) / 2, rel=1e-5)


def test_build_loss_errors():
    assert isinstance(build_loss({"type": "bce_dice"}), BceDiceLoss)
    with pytest.raises(ValueError, match="unknown loss"):
        build_loss({"type": "focal"})
    with pytest.raises(ValueError, match="one logit channel"):
        BceDiceLoss()(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2))
