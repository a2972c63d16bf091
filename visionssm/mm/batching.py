"""Batch helpers shared by the data preprocessors (classification, change detection, medical)."""
from typing import List, Sequence

import torch
import torch.nn.functional as F


def as_sample_list(data_samples) -> List[dict]:
    """Per-sample dicts from what a collate function gives: mmengine's ``pseudo_collate`` and torch's
    ``default_collate`` turn a list of dicts into a dict of sequences; a list of dicts passes through."""
    if data_samples is None:
        return []
    if isinstance(data_samples, dict):
        if not data_samples:
            return []
        n = len(next(iter(data_samples.values())))
        return [{k: v[i] for k, v in data_samples.items()} for i in range(n)]
    return list(data_samples)


def pad_stack(tensors: Sequence[torch.Tensor], value: float = 0.0, size_divisor: int = 1) -> torch.Tensor:
    """Stack (..., H, W) tensors, padding bottom/right with ``value`` to the largest size rounded up to
    ``size_divisor``."""
    d = size_divisor
    H = -(-max(t.shape[-2] for t in tensors) // d) * d
    W = -(-max(t.shape[-1] for t in tensors) // d) * d
    return torch.stack([F.pad(t, (0, W - t.shape[-1], 0, H - t.shape[-2]), value=value) for t in tensors])
