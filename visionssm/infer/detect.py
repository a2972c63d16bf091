"""Object detection / instance segmentation over folders with an mmdet config + checkpoint (Mask R-CNN, ...).

Boxes are ``[x1, y1, x2, y2]`` in input pixels; instance masks are COCO RLE (pycocotools) at the input size."""
from pathlib import Path
from typing import Dict, List, Union

import numpy as np

from .common import InferenceReport
from .mm_runner import FolderRun, MMPredictor
from .outputs import class_name, draw_detections, encode_rle

__all__ = ["Detector", "detect_folder"]


class Detector(MMPredictor):
    scope = "mmdet"
    init_api = ("mmdet.apis", "init_detector")

    def predict_instances(self, images: List[np.ndarray], score_thr: float = 0.3) -> List[Dict[str, np.ndarray]]:
        """Per image: ``boxes`` (N, 4), ``scores`` (N,), ``labels`` (N,) and ``masks`` (N, H, W) bool or None."""
        out = []
        for s in self.predict(images):
            inst = s.pred_instances
            keep = (inst.scores >= score_thr).cpu()
            masks = inst.masks.cpu()[keep].numpy().astype(bool) if "masks" in inst else None
            out.append({"boxes": inst.bboxes.cpu()[keep].float().numpy(), "scores": inst.scores.cpu()[keep].float().numpy(),
                        "labels": inst.labels.cpu()[keep].numpy().astype(np.int64), "masks": masks})
        return out


def detect_folder(detector: Detector, inputs: Union[str, Path], out_dir: Union[str, Path], *, batch_size: int = 1,
                  score_thr: float = 0.3, overwrite: bool = False, resume: bool = False, recursive: bool = True,
                  save_overlays: bool = True, show_progress: bool = True) -> InferenceReport:
    """Writes ``predictions.json`` (per image: instances with ``bbox``, ``score``, ``label``, ``name`` and
    ``segmentation`` RLE when the model predicts masks), ``predictions.csv`` (one row per instance) and
    ``overlays/<rel>.png`` (boxes, captions, tinted masks); ``predictions.jsonl`` per batch (``resume``)."""
    run = FolderRun("detection", inputs, out_dir, recursive=recursive, save_overlays=save_overlays, overwrite=overwrite,
                    resume=resume)
    names = detector.class_names
    for idx, imgs in run.batches(batch_size, "detect", show_progress):
        for i, img, det in zip(idx, imgs, detector.predict_instances(imgs, score_thr)):
            insts = []
            for j in range(len(det["scores"])):
                lab = int(det["labels"][j])
                inst = {"bbox": [round(float(v), 2) for v in det["boxes"][j]],
                        "score": round(float(det["scores"][j]), 6), "label": lab,
                        "name": class_name(names, lab)}
                if det["masks"] is not None:
                    inst["segmentation"] = encode_rle(det["masks"][j])
                insts.append(inst)
            files = []
            if save_overlays:
                files.append(run.save_overlay(i, draw_detections(img, det["boxes"], det["labels"].tolist(),
                                                                 det["scores"].tolist(), names, det["masks"])))
            run.records.append({"path": run.path(i), "height": int(img.shape[0]), "width": int(img.shape[1]),
                                "instances": insts, "files": files})
    report = run.report.finish()
    report.extra["score_thr"] = score_thr
    report.extra["num_instances"] = sum(len(r["instances"]) for r in run.records)

    def rows(records):
        return [{"path": r["path"], **{k: v for k, v in inst.items() if k not in ("bbox", "segmentation")},
                 "x1": inst["bbox"][0], "y1": inst["bbox"][1], "x2": inst["bbox"][2], "y2": inst["bbox"][3]}
                for r in records for inst in r["instances"]]
    return run.write(names, rows, ["path", "label", "name", "score", "x1", "y1", "x2", "y2"])
