"""Change detection under mmengine's Runner (``tools/train.py`` / ``tools/test.py``).

Registers into the ``visionssm`` registries (:mod:`visionssm.mm.registry`):

- ``ChangeDetectionDataset``: one of :mod:`.datasets` + the bi-temporal transform; each item is
  ``dict(inputs=<6×H×W: pre ‖ post>, data_samples=dict(<labels>, name=...))`` (open-cd's packed input).
- ``CDDataPreprocessor``: moves to the device, stacks (padding to a common size with 0 / 255 when sizes differ).
- ``ChangeDetector``: an mmengine ``BaseModel`` around MambaBCD / MambaSCD / MambaBDA (loss / predict / tensor).
- ``ChangeDetectionMetric``: binary / semantic / damage scores of :mod:`.metrics`, in percent.

Configs load this module with ``custom_imports = dict(imports=['visionssm.mm', 'visionssm.changedet.mm'])``.
"""
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch.utils.data import Dataset

from visionssm.mm.batching import as_sample_list, pad_stack
from visionssm.mm.registry import DATASETS, METRICS, MODELS

from .datasets import build_dataset
from .losses import IGNORE_INDEX
from .metrics import (
    binary_change_metrics,
    confusion_matrix,
    damage_metrics,
    semantic_change_metrics,
)
from .models import build_change_model
from .transforms import build_transform

__all__ = ["CDDataPreprocessor", "ChangeDetectionDataset", "ChangeDetectionMetric", "ChangeDetector"]

LABEL_KEYS = {"bcd": ("gt",), "scd": ("gt", "gt_from", "gt_to"), "bda": ("gt_loc", "gt_damage")}
TASK_OF_ARCH = {"mamba_bcd": "bcd", "mamba_scd": "scd", "mamba_bda": "bda"}


@DATASETS.register_module()
class ChangeDetectionDataset(Dataset):
    """A change-detection dataset for the Runner.

    Args:
        data_root: dataset folder. task: 'bcd' | 'scd' | 'bda'. split: sub-folder ('train', 'test', ...).
        layout: folder layout name / folder map (bcd, scd; see ``BINARY_LAYOUTS`` / ``SEMANTIC_LAYOUTS``).
        ann_file: list file (one name per line), relative to ``data_root`` or absolute.
        augment: ``build_transform`` kwargs for training (``crop_size``, ``photometric``, ``swap_prob``); None = only
            normalise (validation / test).
        on_problem: 'raise' (default) or 'skip' incomplete pairs. Other kwargs go to the dataset class.
    """

    def __init__(self, data_root: str, task: str = "bcd", split: Optional[str] = None, layout: Any = "auto",
                 ann_file: Optional[str] = None, augment: Optional[dict] = None, on_problem: str = "raise",
                 metainfo: Optional[dict] = None, **kwargs):
        import os.path as osp

        if task not in LABEL_KEYS:
            raise ValueError(f"task must be one of {sorted(LABEL_KEYS)}, got {task!r}")
        self.task = task
        transform = build_transform(train=True, **augment) if augment is not None else build_transform(train=False)
        if task != "bda":
            kwargs["layout"] = layout
        list_file = osp.join(data_root, ann_file) if ann_file else None
        self.dataset = build_dataset(task, data_root, split=split, list_file=list_file, transform=transform,
                                     on_problem=on_problem, **kwargs)
        self._metainfo = dict(classes=tuple(self.dataset.classes), task=task, **(metainfo or {}))

    @property
    def metainfo(self) -> dict:
        return dict(self._metainfo)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        s = self.dataset[index]
        samples = {k: s[k] for k in LABEL_KEYS[self.task]}
        samples["name"] = s["name"]
        return {"inputs": torch.cat([s["img_from"], s["img_to"]], dim=0), "data_samples": samples}


@MODELS.register_module()
class CDDataPreprocessor(BaseDataPreprocessor):
    """Stacks the (already normalised) 6-channel inputs and the label maps of a batch on the model's device.

    ``size_divisor``: pad height/width up to a multiple (images with 0 = the mean colour, labels with 255).
    """

    def __init__(self, size_divisor: int = 32, non_blocking: bool = False):
        super().__init__(non_blocking)
        self.size_divisor = size_divisor

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data["inputs"]
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else list(inputs.unbind(0))
        samples = as_sample_list(data.get("data_samples"))
        batch_inputs = pad_stack(inputs, 0.0, self.size_divisor)
        targets = {}
        if samples:
            for key in samples[0]:
                if isinstance(samples[0][key], torch.Tensor):
                    # labels padded to the inputs' (divisor-rounded) size
                    maps = [s[key] for s in samples]
                    H, W = batch_inputs.shape[-2:]
                    targets[key] = torch.stack([F.pad(m, (0, W - m.shape[-1], 0, H - m.shape[-2]), value=IGNORE_INDEX)
                                                for m in maps])
        out = self.cast_data({"inputs": batch_inputs, "targets": targets})
        sizes = [tuple(t.shape[-2:]) for t in inputs]
        for s, size in zip(samples, sizes):
            s["ori_shape"] = size
        out["data_samples"] = samples
        return out


@MODELS.register_module()
class ChangeDetector(BaseModel):
    """MambaBCD / MambaSCD / MambaBDA as an mmengine model.

    Args:
        arch: 'mamba_bcd' | 'mamba_scd' | 'mamba_bda'. size: 'tiny' | 'small' | 'base' picks ChangeMamba's encoder.
        **model_kwargs: model options (backbone, pretrained, backbone_kwargs, scan, scan_kwargs, channels,
            block_kwargs, drop_path, out_norm).
        init_cfg: ``dict(type='Pretrained', checkpoint=path_or_url)``: ImageNet weights for the encoder (official
            VMamba checkpoints too), loaded when training starts (``init_weights``; tools/test.py never fetches them)
            by timm's loader (``weights_only``, the family's ``checkpoint_filter_fn``).
    """

    def __init__(self, arch: str = "mamba_bcd", size: Optional[str] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None, **model_kwargs):
        if data_preprocessor is None:
            data_preprocessor = {"type": "visionssm.CDDataPreprocessor"}
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        import visionssm  # noqa: F401  (registers the backbones with timm)

        if arch not in TASK_OF_ARCH:
            raise ValueError(f"arch must be one of {sorted(TASK_OF_ARCH)}, got {arch!r}")
        self.model = build_change_model(arch, size=size, **model_kwargs)
        self.task = TASK_OF_ARCH[arch]

    def init_weights(self):
        """Encoder ImageNet weights from ``init_cfg``; decoders and heads keep their PyTorch initialisation."""
        if self.init_cfg is not None and self.init_cfg.get("type") == "Pretrained":
            from mmengine.logging import print_log

            ckpt = str(self.init_cfg["checkpoint"])
            self.model.encoder.load_pretrained(ckpt)
            print_log(f"encoder {self.model.encoder.backbone_name}: ImageNet weights from {ckpt}", logger="current")
        self._is_init = True

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[dict]] = None,
                targets: Optional[Dict[str, torch.Tensor]] = None, mode: str = "tensor") -> Union[Dict, List, Any]:
        outputs = self.model(inputs)
        if mode == "tensor":
            return outputs
        if mode == "loss":
            if not targets:
                raise ValueError("mode='loss' needs label maps in the batch (data_samples with labels)")
            return self.model.loss(outputs, targets)
        if mode == "predict":
            preds = self.model.predict(outputs)
            results = []
            for i, s in enumerate(data_samples or [{} for _ in range(inputs.shape[0])]):
                H, W = s.get("ori_shape", inputs.shape[-2:])
                r = {k: v for k, v in s.items() if not isinstance(v, torch.Tensor)}
                r.update({f"pred_{k}": v[i, :H, :W].cpu() for k, v in preds.items()})
                if targets:
                    r.update({k: v[i, :H, :W].cpu() for k, v in targets.items()})
                results.append(r)
            return results
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")


@METRICS.register_module()
class ChangeDetectionMetric(BaseMetric):
    """Scores in percent: bcd → precision, recall, f1, iou, oa, kappa; scd → oa, miou, sek, fscd (+ cd_f1, ...);
    bda → f1_loc, f1 per damage class, f1_clf, f1_oa. Confusion matrices are summed over the whole split."""

    default_prefix = "cd"

    def __init__(self, task: str = "bcd", **kwargs):
        super().__init__(**kwargs)
        if task not in LABEL_KEYS:
            raise ValueError(f"task must be one of {sorted(LABEL_KEYS)}, got {task!r}")
        self.task = task

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            if self.task == "bcd":
                self.results.append({"cm": confusion_matrix(s["pred_change"], s["gt"], 2)})
            elif self.task == "scd":
                change = s["pred_change"]
                hist = (confusion_matrix(s["pred_semantic_from"] * (change > 0), s["gt_from"], 7)
                        + confusion_matrix(s["pred_semantic_to"] * (change > 0), s["gt_to"], 7))
                self.results.append({"cm": confusion_matrix(change, s["gt"], 2), "hist": hist})
            else:
                building = (s["gt_loc"] > 0) & (s["gt_loc"] != IGNORE_INDEX)
                self.results.append({"cm": confusion_matrix(s["pred_loc"], s["gt_loc"], 2),
                                     "damage": confusion_matrix(s["pred_damage"][building], s["gt_damage"][building], 5)})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        total = {k: np.sum([r[k] for r in results], axis=0) for k in results[0]}
        if self.task == "bcd":
            scores = binary_change_metrics(total["cm"])
        elif self.task == "scd":
            scores = semantic_change_metrics(total["hist"])
            scores.update({f"cd_{k}": v for k, v in binary_change_metrics(total["cm"]).items()})
        else:
            scores = damage_metrics(total["cm"], total["damage"])
        return {k: 100.0 * v for k, v in scores.items()}
