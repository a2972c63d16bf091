"""Semantic segmentation over folders with an mmseg config + checkpoint (UperNet on a visionssm backbone, ...).

The config decides resizing and whether the image is predicted whole or by sliding window
(``model.test_cfg.mode='slide'``); predictions come back at each input's own size."""
from pathlib import Path
from typing import List, Union

import numpy as np

from .common import InferenceReport
from .mm_runner import FolderRun, MMPredictor
from .outputs import class_name, overlay_mask, palette_for

__all__ = ["Segmenter", "segment_folder"]


class Segmenter(MMPredictor):
    scope = "mmseg"
    init_api = ("mmseg.apis", "init_model")

    def predict_masks(self, images: List[np.ndarray]) -> List[np.ndarray]:
        """H x W int64 class-id maps, one per RGB image."""
        return [s.pred_sem_seg.data[0].cpu().numpy().astype(np.int64) for s in self.predict(images)]


def segment_folder(segmenter: Segmenter, inputs: Union[str, Path], out_dir: Union[str, Path], *, batch_size: int = 1,
                   overwrite: bool = False, resume: bool = False, recursive: bool = True, save_overlays: bool = True,
                   alpha: float = 0.5, show_progress: bool = True) -> InferenceReport:
    """Writes ``masks/<rel>.png`` (class ids; 16-bit above 255 classes), ``overlays/<rel>.png`` (palette blend),
    ``predictions.json`` (per image: mask path, size, pixel share per class present) and ``predictions.csv``
    (one row per image and class present), and ``predictions.jsonl`` per batch (``resume`` continues from it).
    ``<rel>`` mirrors the input folder tree."""
    run = FolderRun("semantic segmentation", inputs, out_dir, recursive=recursive, save_overlays=save_overlays,
                    overwrite=overwrite, extra_targets=("masks",), resume=resume)
    names = segmenter.class_names
    colours = palette_for(max(len(names), 1), segmenter.palette)
    for idx, imgs in run.batches(batch_size, "segment", show_progress):
        for i, img, labels in zip(idx, imgs, segmenter.predict_masks(imgs)):
            files = [run.save_mask(i, labels)]
            if save_overlays:
                from PIL import Image

                files.append(run.save_overlay(i, Image.fromarray(overlay_mask(img, labels, colours, alpha))))
            ids, counts = np.unique(labels, return_counts=True)
            run.records.append({
                "path": run.path(i), "mask": files[0], "files": files,
                "height": int(labels.shape[0]), "width": int(labels.shape[1]),
                "classes": [{"label": int(c), "name": class_name(names, int(c)),
                             "fraction": round(float(n) / labels.size, 6)} for c, n in zip(ids, counts)]})
    run.report.finish()
    return run.write(names, lambda recs: [{"path": r["path"], "mask": r["mask"], **c} for r in recs for c in r["classes"]],
                     ["path", "mask", "label", "name", "fraction"])
