"""mmengine glue for the medical models: model wrapper, data preprocessor, datasets and metric in the
``visionssm`` registries. Configs load it with ``custom_imports = dict(imports=['visionssm.medical.mm'])``.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseDataPreprocessor, BaseModel

from visionssm.mm.batching import as_sample_list
from visionssm.mm.registry import DATASETS, METRICS, MODELS

from .datasets import ISICDataset, NnUNetRawDataset, SynapseDataset
from .infer import logits_to_labels, predict_slices, sliding_window_inference
from .losses import build_loss
from .metrics import SegMetricAccumulator, case_metrics
from .models import create_medical_model

__all__ = ["MedSegDataPreprocessor", "MedSegModel", "MedSegMetric"]

for _cls in (ISICDataset, SynapseDataset, NnUNetRawDataset):
    if _cls.__name__ not in DATASETS.module_dict:
        DATASETS.register_module(module=_cls)


@MODELS.register_module()
class MedSegDataPreprocessor(BaseDataPreprocessor):
    """Stacks image tensors and label maps from the datasets' ``dict(inputs, data_samples=dict(label))``."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data["inputs"]
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        samples = as_sample_list(data.get("data_samples"))
        labels = None
        if samples and all("label" in s for s in samples):
            labels = torch.stack([s["label"] for s in samples]).to(inputs.device)
        return {"inputs": inputs.float(), "data_samples": samples, "labels": labels}


@MODELS.register_module()
class MedSegModel(BaseModel):
    """Any :func:`create_medical_model` network with a BCE+Dice / CE+Dice loss under mmengine's Runner.

    Args:
        model: ``dict(name='vm_unet', num_classes=1, ...)``: name and kwargs for ``create_medical_model``.
        loss: ``dict(type='bce_dice')`` or ``dict(type='ce_dice', num_classes=K, ...)``.
        inference: how ``predict`` runs: ``dict(mode='whole')``; ``dict(mode='slide', roi_size=[...],
            overlap=0.5)`` (volumes, 3D models); ``dict(mode='slices', size=224)`` (volumes, 2D models, Synapse).
        threshold: sigmoid threshold for binary models.
        pretrained: VM-UNet / MHS-VM encoder checkpoint (VMamba-v0 classification), loaded by ``load_from``.
    """

    def __init__(self, model: dict, loss: dict, inference: Optional[dict] = None, threshold: float = 0.5,
                 pretrained: Optional[str] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or {"type": "visionssm.MedSegDataPreprocessor"},
                         init_cfg=init_cfg)
        model = dict(model)
        self.net = create_medical_model(model.pop("name"), **model)
        self.criterion = build_loss(loss)
        self.inference = dict(inference or {"mode": "whole"})
        self.threshold = threshold
        self.pretrained = pretrained

    def init_weights(self):
        super().init_weights()
        if self.pretrained:
            if not hasattr(self.net, "load_from"):
                raise ValueError(f"pretrained= is only supported for VM-UNet-style models, not {type(self.net).__name__}")
            self.net.load_from(self.pretrained, verbose=True)

    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        mode = self.inference.get("mode", "whole")
        if mode == "whole":
            return self.net(inputs)
        if mode == "slide":
            return sliding_window_inference(inputs, self.inference["roi_size"], self.net,
                                            self.inference.get("overlap", 0.5))
        if mode == "slices":
            if inputs.dim() == 4:  # a 2D batch: plain forward
                return self.net(inputs)
            return predict_slices(inputs, self.net, self.inference.get("size"))
        raise ValueError(f"inference mode must be 'whole', 'slide' or 'slices', got {mode!r}")

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[dict]] = None,
                labels: Optional[torch.Tensor] = None, mode: str = "tensor"):
        if mode == "loss":
            if labels is None:
                raise ValueError("mode='loss' needs label maps in data_samples")
            return {"loss": self.criterion(self.net(inputs), labels)}
        if mode == "tensor":
            return self.net(inputs)
        if mode == "predict":
            with torch.no_grad():
                pred = logits_to_labels(self._logits(inputs), self.threshold).cpu()
            out = []
            for i in range(pred.shape[0]):
                s = dict(data_samples[i]) if data_samples else {}
                s["pred_label"] = pred[i]
                out.append(s)
            return out
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")


@METRICS.register_module()
class MedSegMetric(BaseMetric):
    """Dice / IoU / sensitivity / specificity / HD95 per class and mean (see :mod:`visionssm.medical.metrics`).

    ``num_classes`` counts label values including background (binary: 2); ``absent='transunet'`` scores classes
    missing from a case as TransUNet / VM-UNet do on Synapse (see :mod:`visionssm.medical.metrics`).
    """

    default_prefix = "medseg"

    def __init__(self, num_classes: int, class_names: Optional[Sequence[str]] = None,
                 include_background: bool = False, compute_hd95: bool = True, absent: str = "nan", **kwargs):
        super().__init__(**kwargs)
        self.acc_args = {"num_classes": num_classes, "class_names": class_names, "include_background": include_background,
                             "compute_hd95": compute_hd95, "absent": absent}
        SegMetricAccumulator(**self.acc_args)  # checks the arguments when the config is built

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        K = self.acc_args["num_classes"]
        for s in data_samples:
            pred, gt = s["pred_label"].cpu().numpy(), s["label"].cpu().numpy()
            self.results.append(case_metrics(pred, gt, K, self.acc_args["compute_hd95"], absent=self.acc_args["absent"]))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        acc = SegMetricAccumulator(**self.acc_args)
        for counts, case in results:
            acc.pooled += counts
            acc.cases.append(case)
        return acc.compute()
