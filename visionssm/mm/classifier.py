"""Image classification as an mmengine model: a timm backbone + head trained with timm's mixup/cutmix and losses."""
from typing import Dict, List, Optional, Union

import timm
import torch
from mmengine.model import BaseDataPreprocessor, BaseModel
from timm.data import Mixup
from timm.data.mixup import mixup_target
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from torch import nn

from .backbone import keep_grad_layout, load_backbone_checkpoint
from .batching import as_sample_list
from .registry import MODELS

__all__ = ["ClsDataPreprocessor", "OddBatchMixup", "TimmClassifier"]


class OddBatchMixup(Mixup):
    """timm's ``Mixup`` that also takes an odd batch (the last, incomplete batch of an epoch).

    ``batch`` and ``elem`` modes pair sample i with sample B-1-i, which works for any B (the middle sample of an
    odd batch is paired with itself, i.e. keeps its image and label). ``pair`` mode needs pairs: an odd batch
    mixes its first B-1 samples and the last keeps its image, with the smoothed one-hot target.
    """

    @property
    def _multi_label(self) -> bool:
        return bool(getattr(self, "multi_label", False))

    def __call__(self, x: torch.Tensor, target: torch.Tensor):
        if len(x) % 2 == 0:
            return super().__call__(x, target)
        if self.mode == "pair":
            x_head, t_head = super().__call__(x[:-1], target[:-1])
            t_last = mixup_target(target[-1:], self.num_classes, 1.0, self.label_smoothing, self._multi_label)
            return torch.cat([x_head, x[-1:]]), torch.cat([t_head, t_last])
        lam = self._mix_elem(x) if self.mode == "elem" else self._mix_batch(x)
        return x, mixup_target(target, self.num_classes, lam, self.label_smoothing, self._multi_label)


@MODELS.register_module()
class ClsDataPreprocessor(BaseDataPreprocessor):
    """Stacks the already normalised image tensors (timm transforms normalise) and the integer labels."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data["inputs"]
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        samples = as_sample_list(data.get("data_samples"))
        labels = torch.tensor([int(s["gt_label"]) for s in samples], dtype=torch.long, device=inputs.device)
        return {"inputs": inputs, "data_samples": samples, "labels": labels}


@MODELS.register_module()
class TimmClassifier(BaseModel):
    """Any timm classifier (``import visionssm`` registers ours) under mmengine's Runner.

    Args:
        model_name: timm name, e.g. ``'vmamba_tiny_s1l8'``; ``**model_kwargs`` go to ``timm.create_model``
            (``drop_path_rate``, ``scan``, ...).
        num_classes: classifier width.
        mixup: ``timm.data.Mixup`` kwargs (``mixup_alpha``, ``cutmix_alpha``, ``prob``, ``switch_prob``, ``mode``),
            or None; label smoothing is applied inside mixup targets when mixup is on. Odd batches (an epoch's
            last) are mixed too (:class:`OddBatchMixup`), so no ``drop_last`` is needed.
        label_smoothing: smoothing of the cross-entropy (0 disables).
        init_cfg: ``dict(type='Pretrained', checkpoint=path)``: an official or our checkpoint.
    """

    def __init__(self, model_name: str, num_classes: int = 1000, mixup: Optional[dict] = None,
                 label_smoothing: float = 0.0, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None, **model_kwargs):
        if data_preprocessor is None:
            data_preprocessor = {"type": "visionssm.ClsDataPreprocessor"}
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        import visionssm  # noqa: F401  (registers our timm models)
        self.model = keep_grad_layout(timm.create_model(model_name, pretrained=False, num_classes=num_classes,
                                                        **model_kwargs))
        self.num_classes = num_classes
        self._timm_args = (model_name, dict(model_kwargs, num_classes=num_classes))
        self.mixup = OddBatchMixup(**mixup, label_smoothing=label_smoothing, num_classes=num_classes) if mixup else None
        if self.mixup is not None:
            self.criterion: nn.Module = SoftTargetCrossEntropy()
        elif label_smoothing > 0:
            self.criterion = LabelSmoothingCrossEntropy(smoothing=label_smoothing)
        else:
            self.criterion = nn.CrossEntropyLoss()

    def init_weights(self):
        if self.init_cfg is not None and self.init_cfg.get("type") == "Pretrained":
            load_backbone_checkpoint(self.model, self.init_cfg["checkpoint"], *self._timm_args)
            self._is_init = True
        else:
            super().init_weights()

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[dict]] = None,
                labels: Optional[torch.Tensor] = None, mode: str = "tensor") -> Union[Dict, List, torch.Tensor]:
        if mode == "loss":
            if self.mixup is not None:
                inputs, labels = self.mixup(inputs, labels)
            return {"loss": self.criterion(self.model(inputs), labels)}
        logits = self.model(inputs)
        if mode == "tensor":
            return logits
        if mode == "predict":
            scores = logits.float().softmax(-1).cpu()
            out = []
            for i, score in enumerate(scores):
                s = dict(data_samples[i]) if data_samples else {}
                s.update(pred_score=score, pred_label=int(score.argmax()))
                out.append(s)
            return out
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
