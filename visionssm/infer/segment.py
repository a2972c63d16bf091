"""Semantic segmentation over folders with an mmseg config + checkpoint (UperNet on a visionssm backbone, ...).

The config decides resizing and whether the image is predicted whole or by sliding window
(``model.test_cfg.mode='slide'``); predictions come back at each input's own size."""
from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np

from .common import InferenceReport, progress, resolve_device
from .io import ImageReadError, list_images, read_image
from .mm_runner import MMPredictor
from .outputs import check_writable, mask_png, output_name, overlay_mask, palette_for, write_csv, write_json

__all__ = ["Segmenter", "segment_folder"]


class Segmenter(MMPredictor):
    scope = "mmseg"

    @classmethod
    def from_config(cls, config: Union[str, Path], checkpoint: str, device="auto", amp: bool = False) -> "Segmenter":
        from .mm_runner import _need_mm

        _need_mm()
        from mmseg.apis import init_model

        return cls.build(config, checkpoint, resolve_device(device), amp, init=init_model)

    def predict_masks(self, images: List[np.ndarray]) -> List[np.ndarray]:
        """H x W int64 class-id maps, one per RGB image."""
        return [s.pred_sem_seg.data[0].cpu().numpy().astype(np.int64) for s in self.predict(images)]


def segment_folder(segmenter: Segmenter, inputs: Union[str, Path], out_dir: Union[str, Path], *, batch_size: int = 1,
                   overwrite: bool = False, recursive: bool = True, save_overlays: bool = True, alpha: float = 0.5,
                   show_progress: bool = True) -> InferenceReport:
    """Writes ``masks/<rel>.png`` (class ids; 16-bit above 255 classes), ``overlays/<rel>.png`` (palette blend),
    ``predictions.json`` (per image: mask path, size, pixel share per class present) and ``predictions.csv``
    (one row per image and class present). ``<rel>`` mirrors the input folder tree."""
    root, files = list_images(inputs, recursive=recursive)
    out_dir = Path(out_dir)
    taken: set = set()
    rels = [output_name(f.relative_to(root), ".png", taken) for f in files]
    targets = [out_dir / "predictions.json", out_dir / "predictions.csv"] + [out_dir / "masks" / r for r in rels]
    if save_overlays:
        targets += [out_dir / "overlays" / r for r in rels]
    check_writable(targets, overwrite)
    names = segmenter.class_names
    colours = palette_for(max(len(names), 1), segmenter.palette)
    report = InferenceReport("semantic segmentation", num_inputs=len(files))
    records: List[Dict[str, Any]] = []
    with progress(len(files), "segment", show_progress) as bar:
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
                for i, img, labels in zip(ok, imgs, segmenter.predict_masks(imgs)):
                    mask_path = out_dir / "masks" / rels[i]
                    mask_png(mask_path, labels)
                    report.written.append(str(mask_path))
                    if save_overlays:
                        ov = out_dir / "overlays" / rels[i]
                        ov.parent.mkdir(parents=True, exist_ok=True)
                        from PIL import Image

                        Image.fromarray(overlay_mask(img, labels, colours, alpha)).save(ov)
                        report.written.append(str(ov))
                    ids, counts = np.unique(labels, return_counts=True)
                    records.append({
                        "path": files[i].relative_to(root).as_posix(), "mask": (Path("masks") / rels[i]).as_posix(),
                        "height": int(labels.shape[0]), "width": int(labels.shape[1]),
                        "classes": [{"label": int(c), "name": _name(names, int(c)),
                                     "fraction": round(float(n) / labels.size, 6)} for c, n in zip(ids, counts)]})
            report.num_predicted = len(records)
            bar.update(len(chunk))
    report.finish()
    write_json(out_dir / "predictions.json", {**report.as_dict(), "classes": names, "predictions": records})
    rows = [{"path": r["path"], "mask": r["mask"], **c} for r in records for c in r["classes"]]
    write_csv(out_dir / "predictions.csv", rows, ["path", "mask", "label", "name", "fraction"])
    report.written += [str(out_dir / "predictions.json"), str(out_dir / "predictions.csv")]
    return report


def _name(names, label: int) -> str:
    return names[label] if 0 <= label < len(names) else str(label)
