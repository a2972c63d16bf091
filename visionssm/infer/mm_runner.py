"""Shared mmseg/mmdet plumbing: build a model from config + checkpoint, turn its test pipeline into one that takes
in-memory arrays (annotation loading removed), and run batches through ``model.test_step``.

Everything OpenMMLab is imported lazily, after ``visionssm.mm`` (which supplies ``mmcv._ext`` on mmcv-lite)."""
import copy
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np
import torch

__all__ = ["MMPredictor"]


def _need_mm():
    try:
        import visionssm.mm  # noqa: F401  (mmcv._ext on mmcv-lite, our registries, safe checkpoint types)
    except ImportError as e:
        raise ImportError("segmentation/detection inference needs the OpenMMLab stack: "
                          "pip install 'visionssm[mm]'") from e


class MMPredictor:
    """A built mmseg/mmdet model + the config's test pipeline fed from arrays; :meth:`predict` takes RGB images."""

    scope = ""

    def __init__(self, model, cfg, device: torch.device, amp: bool = False):
        from mmengine.dataset import Compose
        from mmengine.registry import DefaultScope

        self.model, self.cfg, self.device, self.amp = model, cfg, device, amp
        steps = self._pipeline_cfg(cfg)
        with DefaultScope.overwrite_default_scope(self.scope):
            self.pipeline = Compose(steps)
        meta = getattr(model, "dataset_meta", None) or {}
        self.class_names = [str(c) for c in meta.get("classes", ())]
        palette = meta.get("palette")
        self.palette = palette if isinstance(palette, (list, tuple)) else None

    @classmethod
    def build(cls, config: Union[str, Path], checkpoint: str, device: torch.device, amp: bool = False,
              init: Optional[Callable] = None):
        _need_mm()
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"checkpoint {checkpoint} not found")
        model = init(str(config), str(checkpoint), device=str(device))
        return cls(model, model.cfg, device, amp)

    def _pipeline_cfg(self, cfg) -> List[dict]:
        loader = cfg.get("test_dataloader") or {}
        pipeline = (loader.get("dataset") or {}).get("pipeline") or cfg.get("test_pipeline")
        if not pipeline:
            raise ValueError("the config has no test pipeline (test_dataloader.dataset.pipeline or test_pipeline)")
        steps = [copy.deepcopy(dict(s)) for s in pipeline if "LoadAnnotations" not in str(s.get("type", ""))]
        if not str(steps[0].get("type", "")).startswith("LoadImageFrom"):
            raise ValueError(f"the test pipeline should start with an image loader, got {steps[0].get('type')}")
        steps[0] = dict(type="LoadImageFromNDArray")
        for s in steps:  # inference has no annotations to pack
            if "meta_keys" in s:
                s["meta_keys"] = tuple(k for k in s["meta_keys"] if k not in ("seg_map_path", "reduce_zero_label"))
        return steps

    @torch.inference_mode()
    def predict(self, images: Sequence[np.ndarray]) -> List[Any]:
        """Data samples (``pred_sem_seg`` / ``pred_instances`` at each image's original size) for RGB images."""
        from mmengine.dataset import pseudo_collate

        from .common import autocast

        data = [self.pipeline(dict(img=np.ascontiguousarray(img[..., ::-1]), img_id=i))  # mm pipelines are BGR
                for i, img in enumerate(images)]
        # mmseg's test-time preprocessor refuses mixed sizes in a batch: batch images of equal resized shape
        groups: dict = {}
        for i, d in enumerate(data):
            groups.setdefault(tuple(d["inputs"].shape), []).append(i)
        results: List[Any] = [None] * len(data)
        with autocast(self.device, self.amp):
            for idx in groups.values():
                for i, r in zip(idx, self.model.test_step(pseudo_collate([data[i] for i in idx]))):
                    results[i] = r
        return results
