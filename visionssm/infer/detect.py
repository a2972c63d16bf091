"""Object detection / instance segmentation over folders with an mmdet config + checkpoint (Mask R-CNN, ...).

Boxes are ``[x1, y1, x2, y2]`` in input pixels; instance masks are COCO RLE (pycocotools) at the input size."""
from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np

from .common import InferenceReport, progress, resolve_device
from .io import ImageReadError, list_images, read_image
from .mm_runner import MMPredictor
from .outputs import check_writable, draw_detections, encode_rle, output_name, write_csv, write_json

__all__ = ["Detector", "detect_folder"]


class Detector(MMPredictor):
    scope = "mmdet"

    @classmethod
    def from_config(cls, config: Union[str, Path], checkpoint: str, device="auto", amp: bool = False) -> "Detector":
        from .mm_runner import _need_mm

        _need_mm()
        from mmdet.apis import init_detector

        return cls.build(config, checkpoint, resolve_device(device), amp, init=init_detector)

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
                  score_thr: float = 0.3, overwrite: bool = False, recursive: bool = True, save_overlays: bool = True,
                  show_progress: bool = True) -> InferenceReport:
    """Writes ``predictions.json`` (per image: instances with ``bbox``, ``score``, ``label``, ``name`` and
    ``segmentation`` RLE when the model predicts masks), ``predictions.csv`` (one row per instance) and
    ``overlays/<rel>.png`` (boxes, captions, tinted masks)."""
    root, files = list_images(inputs, recursive=recursive)
    out_dir = Path(out_dir)
    taken: set = set()
    rels = [output_name(f.relative_to(root), ".png", taken) for f in files]
    targets = [out_dir / "predictions.json", out_dir / "predictions.csv"]
    if save_overlays:
        targets += [out_dir / "overlays" / r for r in rels]
    check_writable(targets, overwrite)
    names = detector.class_names
    report = InferenceReport("detection", num_inputs=len(files))
    records: List[Dict[str, Any]] = []
    with progress(len(files), "detect", show_progress) as bar:
        for start in range(0, len(files), batch_size):
            chunk = list(range(start, min(start + batch_size, len(files))))
            imgs, ok = [], []
            for i in chunk:
                try:
                    imgs.append(read_image(files[i]))
                    ok.append(i)
                except ImageReadError as e:
                    report.fail(files[i], e.reason)
            if imgs:
                for i, img, det in zip(ok, imgs, detector.predict_instances(imgs, score_thr)):
                    insts = []
                    for j in range(len(det["scores"])):
                        lab = int(det["labels"][j])
                        inst = {"bbox": [round(float(v), 2) for v in det["boxes"][j]],
                                "score": round(float(det["scores"][j]), 6), "label": lab,
                                "name": names[lab] if lab < len(names) else str(lab)}
                        if det["masks"] is not None:
                            inst["segmentation"] = encode_rle(det["masks"][j])
                        insts.append(inst)
                    records.append({"path": files[i].relative_to(root).as_posix(), "height": int(img.shape[0]),
                                    "width": int(img.shape[1]), "instances": insts})
                    if save_overlays:
                        ov = out_dir / "overlays" / rels[i]
                        ov.parent.mkdir(parents=True, exist_ok=True)
                        draw_detections(img, det["boxes"], det["labels"].tolist(), det["scores"].tolist(), names,
                                        det["masks"]).save(ov)
                        report.written.append(str(ov))
            report.num_predicted = len(records)
            bar.update(len(chunk))
    report.finish()
    report.extra["score_thr"] = score_thr
    report.extra["num_instances"] = sum(len(r["instances"]) for r in records)
    write_json(out_dir / "predictions.json", {**report.as_dict(), "classes": names, "predictions": records})
    rows = [{"path": r["path"], **{k: v for k, v in inst.items() if k not in ("bbox", "segmentation")},
             "x1": inst["bbox"][0], "y1": inst["bbox"][1], "x2": inst["bbox"][2], "y2": inst["bbox"][3]}
            for r in records for inst in r["instances"]]
    write_csv(out_dir / "predictions.csv", rows, ["path", "label", "name", "score", "x1", "y1", "x2", "y2"])
    report.written += [str(out_dir / "predictions.json"), str(out_dir / "predictions.csv")]
    return report
