"""The metrics the tools report, checked on exact oracles: ground truth as predictions, and known errors."""
import json

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.mm

pytest.importorskip("mmdet")
import visionssm.mm  # noqa: E402,F401
from visionssm.mm import TopKAccuracy  # noqa: E402


def _coco_predictions(coco_root, drop_category=None):
    """The ground truth of the tiny COCO set as mmdet predictions (boxes xyxy, masks, score 1)."""
    from pycocotools import mask as mask_util
    gt = json.loads((coco_root / "annotations" / "instances_val2017.json").read_text())
    preds = []
    for img in gt["images"]:
        anns = [a for a in gt["annotations"] if a["image_id"] == img["id"] and a["category_id"] != drop_category]
        boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                              for a in anns], dtype=torch.float32).reshape(-1, 4)
        masks = []
        for a in anns:
            rle = mask_util.merge(mask_util.frPyObjects(a["segmentation"], img["height"], img["width"]))
            masks.append(torch.from_numpy(mask_util.decode(rle).astype(bool)))
        pred = {"bboxes": boxes, "scores": torch.ones(len(anns)), "labels": torch.tensor([a["category_id"] - 1 for a in anns]),
                    "masks": torch.stack(masks) if masks else torch.zeros(0, img["height"], img["width"], dtype=torch.bool)}
        preds.append({"img_id": img["id"], "ori_shape": (img["height"], img["width"]), "pred_instances": pred})
    return preds


@pytest.mark.parametrize("drop", [None, 2])
def test_coco_metric_oracle(coco_root, drop):
    from mmdet.evaluation import CocoMetric
    metric = CocoMetric(ann_file=str(coco_root / "annotations" / "instances_val2017.json"), metric=["bbox", "segm"])
    metric.dataset_meta = {"classes": ("square", "triangle")}
    metric.process({}, _coco_predictions(coco_root, drop_category=drop))
    res = metric.evaluate(size=4)
    if drop is None:  # perfect predictions: AP = 1 for boxes and masks
        assert res["coco/bbox_mAP"] == pytest.approx(1.0) and res["coco/segm_mAP"] == pytest.approx(1.0)
    else:  # every triangle missed: one class of two has AP 0
        assert res["coco/bbox_mAP"] == pytest.approx(0.5) and res["coco/segm_mAP"] == pytest.approx(0.5)


def test_iou_metric_oracle(ade_root):
    from mmseg.evaluation import IoUMetric
    from PIL import Image
    metric = IoUMetric(iou_metrics=["mIoU"])
    metric.dataset_meta = {"classes": ("a", "b", "c")}
    samples = []
    for png in sorted((ade_root / "annotations" / "validation").glob("*.png")):
        label = torch.from_numpy(np.array(Image.open(png)).astype(np.int64)) - 1  # reduce_zero_label: 0 -> 255
        label[label < 0] = 255
        pred = label.clone()
        pred[pred == 255] = 0
        samples.append({"pred_sem_seg": {"data": pred[None]}, "gt_sem_seg": {"data": label[None]}})
    metric.process({}, samples)
    assert metric.evaluate(len(samples))["mIoU"] == pytest.approx(100.0)
    # predicting class 0 everywhere: IoU(0) = |gt 0| / |valid|, IoU(1) = IoU(2) = 0
    metric.results.clear()
    for s in samples:
        s["pred_sem_seg"] = {"data": torch.zeros_like(s["gt_sem_seg"]["data"])}
    metric.process({}, samples)
    gt = torch.cat([s["gt_sem_seg"]["data"].flatten() for s in samples])
    expect = 100.0 * float((gt == 0).sum()) / float((gt != 255).sum()) / 3
    assert metric.evaluate(len(samples))["mIoU"] == pytest.approx(expect, abs=0.01)


def test_topk_accuracy_exact():
    metric = TopKAccuracy(topk=(1, 2))
    scores = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5]])
    labels = [0, 1, 1, 0]  # top-1 right for sample 0 only; top-2 right for 0, 1, 2
    metric.process({}, [{"pred_score": s, "gt_label": y} for s, y in zip(scores, labels)])
    assert metric.evaluate(4) == {"accuracy/top1": 25.0, "accuracy/top2": 75.0}
