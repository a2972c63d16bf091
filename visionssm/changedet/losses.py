"""Change-detection losses as ChangeMamba trains them: cross-entropy + Lovász-softmax (ignore index 255).

Lovász-softmax (Berman et al., CVPR 2018) is the convex Lovász extension of the per-class Jaccard loss:
for each class, sort the absolute errors |fg - p| in decreasing order and take their dot product with the
discrete gradient of the Jaccard index along that order. On hard (0/1) probabilities it equals 1 - IoU
exactly, which is what the tests check.
"""
from typing import Dict, Optional, Union

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovász extension of the Jaccard loss w.r.t. errors sorted in decreasing order."""
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1.0 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if gt_sorted.numel() > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def _lovasz_flat(probs: torch.Tensor, labels: torch.Tensor, classes: Union[str, list]) -> torch.Tensor:
    """probs (P, C) on valid pixels only, labels (P,)."""
    if probs.numel() == 0:
        return probs.sum() * 0.0
    num_classes = probs.shape[1]
    class_ids = range(num_classes) if classes in ("all", "present") else classes
    losses = []
    for c in class_ids:  # loop over classes (≤ a few dozen), never over pixels
        fg = (labels == c).to(probs.dtype)
        if classes == "present" and fg.sum() == 0:
            continue
        errors = (fg - probs[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, descending=True)
        losses.append(torch.dot(errors_sorted, lovasz_grad(fg[perm])))
    if not losses:
        return probs.sum() * 0.0
    return torch.stack(losses).mean()


def lovasz_softmax(probs: torch.Tensor, labels: torch.Tensor, ignore_index: Optional[int] = IGNORE_INDEX,
                   classes: Union[str, list] = "present", per_image: bool = False) -> torch.Tensor:
    """Lovász-softmax loss on class probabilities.

    probs: (B, C, H, W) softmax probabilities; labels: (B, H, W) class ids; pixels equal to ``ignore_index``
    do not count. ``classes="present"`` averages over classes present in the labels (the original's default),
    ``"all"`` over every class, or a list of class ids. ``per_image`` averages per-image losses instead of
    pooling the batch.
    """
    if probs.dim() != 4 or labels.dim() != 3:
        raise ValueError(f"lovasz_softmax expects probs (B, C, H, W) and labels (B, H, W); got "
                         f"{tuple(probs.shape)} and {tuple(labels.shape)}")

    def flat(p, l):
        p = p.permute(0, 2, 3, 1).reshape(-1, p.shape[1])
        l = l.reshape(-1)
        if ignore_index is not None:
            keep = l != ignore_index
            p, l = p[keep], l[keep]
        return p, l

    if per_image:
        return torch.stack([_lovasz_flat(*flat(p[None], l[None]), classes) for p, l in zip(probs, labels)]).mean()
    return _lovasz_flat(*flat(probs, labels), classes)


def ce_lovasz(logits: torch.Tensor, target: torch.Tensor, lovasz_weight: float = 0.75,
              ignore_index: int = IGNORE_INDEX) -> Dict[str, torch.Tensor]:
    """``CE + w·Lovász`` on logits, returned as its two parts (zeros when every pixel is ignored)."""
    if not bool((target != ignore_index).any()):  # CE would be 0/0 = NaN, e.g. a crop with no changed pixel
        zero = logits.sum() * 0.0
        return {"ce": zero, "lovasz": zero}
    ce = F.cross_entropy(logits, target, ignore_index=ignore_index)
    lov = lovasz_softmax(F.softmax(logits, dim=1), target, ignore_index=ignore_index)
    return {"ce": ce, "lovasz": lovasz_weight * lov}


def _no_change_to_ignore(sem: torch.Tensor) -> torch.Tensor:
    """SECOND semantic labels use 0 for 'no change'; the semantic heads are trained on changed pixels only."""
    return torch.where(sem == 0, torch.full_like(sem, IGNORE_INDEX), sem)


def bcd_loss(change_logits: torch.Tensor, gt: torch.Tensor) -> Dict[str, torch.Tensor]:
    """MambaBCD: ``CE + 0.75·Lovász``."""
    parts = ce_lovasz(change_logits, gt, 0.75)
    return {"loss_ce": parts["ce"], "loss_lovasz": parts["lovasz"]}


def scd_loss(change_logits: torch.Tensor, sem_from_logits: torch.Tensor, sem_to_logits: torch.Tensor,
             gt: torch.Tensor, gt_from: torch.Tensor, gt_to: torch.Tensor) -> Dict[str, torch.Tensor]:
    """MambaSCD: ``CE_cd + 0.5·(CE_t1 + CE_t2 + 0.5·MSE_sim) + 0.75·(Lov_cd + 0.5·(Lov_t1 + Lov_t2))``.

    Semantic labels 0 ('no change') become 255; ``MSE_sim`` pulls the two dates' class distributions
    together on those unchanged pixels (mean over every element, as the original).
    """
    gt_from = _no_change_to_ignore(gt_from)
    gt_to = _no_change_to_ignore(gt_to)
    cd = ce_lovasz(change_logits, gt, 1.0)
    t1 = ce_lovasz(sem_from_logits, gt_from, 1.0)
    t2 = ce_lovasz(sem_to_logits, gt_to, 1.0)
    unchanged = (gt_from == IGNORE_INDEX).unsqueeze(1).to(sem_from_logits.dtype)
    sim = F.mse_loss(F.softmax(sem_from_logits, dim=1) * unchanged, F.softmax(sem_to_logits, dim=1) * unchanged)
    return {
        "loss_ce": cd["ce"],
        "loss_sem_ce": 0.5 * (t1["ce"] + t2["ce"]),
        "loss_sim": 0.25 * sim,
        "loss_lovasz": 0.75 * cd["lovasz"],
        "loss_sem_lovasz": 0.375 * (t1["lovasz"] + t2["lovasz"]),
    }


def bda_loss(loc_logits: torch.Tensor, damage_logits: torch.Tensor, gt_loc: torch.Tensor,
             gt_damage: torch.Tensor) -> Dict[str, torch.Tensor]:
    """MambaBDA: ``CE_loc + CE_clf + 0.5·Lov_loc + 0.75·Lov_clf``; damage label 0 (background) is ignored."""
    gt_damage = _no_change_to_ignore(gt_damage)
    loc = ce_lovasz(loc_logits, gt_loc, 0.5)
    dmg = ce_lovasz(damage_logits, gt_damage, 0.75)
    return {"loss_loc_ce": loc["ce"], "loss_loc_lovasz": loc["lovasz"],
            "loss_damage_ce": dmg["ce"], "loss_damage_lovasz": dmg["lovasz"]}


def total_loss(parts: Dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the ``loss*`` entries (the mmengine convention)."""
    return sum(v for k, v in parts.items() if k.startswith("loss"))
