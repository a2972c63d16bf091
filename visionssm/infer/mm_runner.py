"""Shared mmseg/mmdet plumbing: build a model from config + checkpoint, turn its test pipeline into one that takes
in-memory arrays (annotation loading removed), and run batches through ``model.test_step``; plus the folder loop
both ``segment_folder`` and ``detect_folder`` run (output names, batches of readable images, overlays, predictions files).

Everything OpenMMLab is imported lazily, after ``visionssm.mm`` (which supplies ``mmcv._ext`` on mmcv-lite)."""
import copy
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .common import InferenceReport, progress, resolve_device
from .io import ImageReadError, list_images, read_image
from .outputs import RunDir, mask_png, output_name

__all__ = ["MMPredictor", "FolderRun"]


def _need_mm():
    try:
        import visionssm.mm  # noqa: F401  (mmcv._ext on mmcv-lite, our registries, safe checkpoint types)
    except ImportError as e:
        raise ImportError("segmentation/detection inference needs the OpenMMLab stack: "
                          "pip install 'visionssm[mm]'") from e


class MMPredictor:
    """A built mmseg/mmdet model + the config's test pipeline fed from arrays; :meth:`predict` takes RGB images."""

    scope = ""
    init_api: Tuple[str, str] = ("", "")  # (module, function) building the model: ("mmdet.apis", "init_detector")

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
    def from_config(cls, config: Union[str, Path], checkpoint: str, device="auto", amp: bool = False):
        """Built without backbone weights (the full checkpoint replaces them), checkpoint loaded strictly."""
        _need_mm()
        from functools import partial

        from visionssm.mm.loading import init_model_from_checkpoint
        return cls.build(config, checkpoint, resolve_device(device), amp,
                         init=partial(init_model_from_checkpoint, scope=cls.scope))

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


class FolderRun:
    """One ``<task>_folder`` run: inputs listed once, an output name per input (``<rel>`` mirrors the input tree),
    the output folder checked before any work (:class:`~visionssm.infer.outputs.RunDir`: ``overwrite`` /
    ``resume``), images read in batches (unreadable ones reported and skipped), each finished batch logged."""

    def __init__(self, task: str, inputs: Union[str, Path], out_dir: Union[str, Path], *, recursive: bool,
                 save_overlays: bool, overwrite: bool, extra_targets: Sequence[str] = (), resume: bool = False):
        links: List = []
        self.root, self.files = list_images(inputs, recursive=recursive, skipped=links)
        taken: set = set()
        self.rels = [output_name(f.relative_to(self.root), ".png", taken) for f in self.files]
        subs = list(extra_targets) + (["overlays"] if save_overlays else [])
        self.run = RunDir(out_dir, [Path(sub) / r for sub in subs for r in self.rels], overwrite=overwrite,
                          resume=resume, summaries=("predictions.json", "predictions.csv"))
        self.out_dir = self.run.out_dir
        self.report = InferenceReport(task, num_inputs=len(self.files))
        for path, reason in links:
            self.report.fail(path, reason)
        self.todo = [i for i in range(len(self.files)) if self.path(i) not in self.run.done]
        self.report.num_resumed = len(self.files) - len(self.todo)
        self.records: List[Dict[str, Any]] = []

    def batches(self, batch_size: int, desc: str, show_progress: bool) -> Iterator[Tuple[List[int], List[np.ndarray]]]:
        """(input indices, RGB images) per batch of readable inputs not done yet; after the caller has added the
        batch's ``records`` (each listing its ``files``), they are logged and ``report.num_predicted`` follows."""
        with progress(len(self.todo), desc, show_progress) as bar:
            for start in range(0, len(self.todo), batch_size):
                chunk = self.todo[start:start + batch_size]
                imgs, ok = [], []
                for i in chunk:
                    try:
                        imgs.append(read_image(self.files[i]))
                        ok.append(i)
                    except ImageReadError as e:
                        self.report.fail(self.files[i], e.reason)
                logged = len(self.records)
                if imgs:
                    yield ok, imgs
                self.run.append(self.records[logged:])
                self.report.num_predicted = len(self.records)
                bar.update(len(chunk))

    def path(self, i: int) -> str:
        return self.files[i].relative_to(self.root).as_posix()

    def save_mask(self, i: int, labels: np.ndarray) -> str:
        """``masks/<rel>.png`` (class ids); returns its path relative to the output folder."""
        rel = (Path("masks") / self.rels[i]).as_posix()
        self.report.written.append(self.run.save(rel, lambda tmp: mask_png(tmp, labels)))
        return rel

    def save_overlay(self, i: int, image) -> str:
        """Saves a PIL image as ``overlays/<rel>.png``; returns its path relative to the output folder."""
        rel = (Path("overlays") / self.rels[i]).as_posix()
        self.report.written.append(self.run.save(rel, image.save))
        return rel

    def write(self, names: List[str], rows_of: Callable[[List[Dict[str, Any]]], List[Dict[str, Any]]],
              columns: List[str]) -> InferenceReport:
        """``predictions.json`` (the report, class names and every record, this run's and resumed ones) and
        ``predictions.csv`` (``rows_of(records)``)."""
        new = {r["path"]: r for r in self.records}
        records = [new.get(p) or self.run.done[p] for p in map(self.path, range(len(self.files)))
                   if p in new or p in self.run.done]
        self.report.written += [
            self.run.write_json("predictions.json", {**self.report.as_dict(), "classes": names,
                                                     "predictions": records}),
            self.run.write_csv("predictions.csv", rows_of(records), columns)]
        return self.report
