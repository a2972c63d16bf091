"""Segmentation losses on logits: BCE + Dice (binary, VM-UNet ISIC) and CE + Dice (multi-class, Synapse / nnU-Net).

Both take raw logits (the sigmoid / softmax is applied here, in float32) and integer label maps.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BceDiceLoss", "CeDiceLoss", "build_loss"]


class BceDiceLoss(nn.Module):
    """``wb · BCE + wd · (1 − Dice)`` with Dice = mean over samples of (2·|P∩G| + s) / (|P| + |G| + s), s = 1.

    Matches VM-UNet's ``BceDiceLoss(wb=1, wd=1)`` (which receives sigmoid outputs) computed from logits.
    logits (B, 1, *S); target (B, *S) or (B, 1, *S) with values {0, 1}.
    """

    def __init__(self, wb: float = 1.0, wd: float = 1.0, smooth: float = 1.0):
        super().__init__()
        self.wb, self.wd, self.smooth = wb, wd, smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.shape[1] != 1:
            raise ValueError(f"BceDiceLoss expects one logit channel, got {logits.shape[1]}; use CeDiceLoss")
        logits = logits.float().flatten(1)
        target = target.float().reshape(logits.shape)
        bce = F.binary_cross_entropy_with_logits(logits, target)
        prob = logits.sigmoid()
        dice = (2 * (prob * target).sum(1) + self.smooth) / (prob.sum(1) + target.sum(1) + self.smooth)
        return self.wb * bce + self.wd * (1 - dice.mean())


class CeDiceLoss(nn.Module):
    """``w_ce · CE + w_dice · mean_c(1 − Dice_c)``, soft Dice on softmax over the whole batch per class.

    ``dice_square=True`` uses Σp² + Σg² in the denominator and smooth 1e-5 over all classes including background
    (VM-UNet / TransUNet ``DiceLoss`` for Synapse, weights (1, 1) in VM-UNet's config); ``False`` with
    ``include_background=False`` is nnU-Net's soft Dice (Σp + Σg, batch Dice) used by LightM-UNet.
    logits (B, K, *S); target (B, *S) int with values in [0, K) (``ignore_index`` excluded from both terms).
    """

    def __init__(self, num_classes: int, weights: Sequence[float] = (1.0, 1.0), include_background: bool = True,
                 dice_square: bool = True, smooth: float = 1e-5, ignore_index: int = 255):
        super().__init__()
        self.num_classes, self.weights = num_classes, tuple(weights)
        self.include_background, self.dice_square = include_background, dice_square
        self.smooth, self.ignore_index = smooth, ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        K = logits.shape[1]
        if self.num_classes != K:
            raise ValueError(f"CeDiceLoss built for {self.num_classes} classes got {K} logit channels")
        if target.dim() == logits.dim():
            target = target.squeeze(1)
        target = target.long()
        logits = logits.float()
        ce = F.cross_entropy(logits, target, ignore_index=self.ignore_index)
        valid = (target != self.ignore_index).unsqueeze(1).float()
        onehot = F.one_hot(target.clamp(0, K - 1), K).movedim(-1, 1).float() * valid
        prob = logits.softmax(1) * valid
        dims = [0] + list(range(2, logits.dim()))
        inter = (prob * onehot).sum(dims)
        if self.dice_square:
            denom = (prob * prob).sum(dims) + (onehot * onehot).sum(dims)
        else:
            denom = prob.sum(dims) + onehot.sum(dims)
        dice = (2 * inter + self.smooth) / (denom + self.smooth)
        if not self.include_background:
            dice = dice[1:]
        return self.weights[0] * ce + self.weights[1] * (1 - dice).mean()


def build_loss(cfg: dict) -> nn.Module:
    """``dict(type='bce_dice', wb=1, wd=1)`` or ``dict(type='ce_dice', num_classes=9, ...)``."""
    cfg = dict(cfg)
    kind = cfg.pop("type")
    if kind == "bce_dice":
        return BceDiceLoss(**cfg)
    if kind == "ce_dice":
        return CeDiceLoss(**cfg)
    raise ValueError(f"unknown loss type {kind!r}; use 'bce_dice' (binary) or 'ce_dice' (multi-class)")
