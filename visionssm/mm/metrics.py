"""Top-k accuracy for :class:`TimmClassifier` predictions (percent, like timm's validate.py)."""
from typing import Dict, List, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric

from .registry import METRICS

__all__ = ["TopKAccuracy"]


@METRICS.register_module()
class TopKAccuracy(BaseMetric):
    """``accuracy/top1``, ``accuracy/top5``: share of samples whose label is among the k highest scores."""

    default_prefix = "accuracy"

    def __init__(self, topk: Union[int, Sequence[int]] = (1, 5), **kwargs):
        super().__init__(**kwargs)
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            score: torch.Tensor = s["pred_score"]
            k = min(max(self.topk), score.numel())
            top = score.topk(k).indices.tolist()
            self.results.append([int(s["gt_label"]) in top[:min(t, k)] for t in self.topk])

    def compute_metrics(self, results: List[list]) -> Dict[str, float]:
        n = max(len(results), 1)
        return {f"top{t}": 100.0 * sum(r[i] for r in results) / n for i, t in enumerate(self.topk)}
