"""End to end through the tools' code: train a few iterations on a fixed batch, resume, and compute the real metric.

Each task trains a tiny VMamba-v2 backbone (the real config, shrunk by a child config) for 3 iterations on one
fixed batch (loss finite and decreasing, checkpoint written), resumes to iteration 4, then tests the checkpoint.
"""
import json
import math
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.mm

from .mm_helpers import CONFIGS, ROOT, run_tool, tiny_cls_body, tiny_det_body, tiny_seg_body, write_config  # noqa: E402

DET_CFG = CONFIGS / "detection" / "mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py"
SEG_CFG = CONFIGS / "segmentation" / "upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py"
CLS_CFG = CONFIGS / "classification" / "vmamba-tiny-s1l8_8xb128_in1k.py"


def _losses(work_dir: Path):
    """(iter, loss) logged in ``work_dir`` so far (mmengine's <timestamp>/vis_data/scalars.json, oldest run first).

    Two runs started within the same second share a timestamp folder and append to one file, so callers compare
    what was logged before and after a run rather than trusting "the latest folder".
    """
    rows = []
    for run in sorted(work_dir.glob("*/vis_data/scalars.json")):
        rows += [json.loads(line) for line in run.read_text().splitlines() if line.strip()]
    return [(r["iter"], r["loss"]) for r in rows if "loss" in r]


def _train(cfg: Path, *extra):
    from visionssm.cli.train import main
    main([str(cfg), *map(str, extra)])


def _test(cfg: Path, ckpt: Path, *extra) -> dict:
    from visionssm.cli.test import main
    return main([str(cfg), str(ckpt), *map(str, extra)])


def _check_train(work_dir: Path, ckpt_name: str, n_iters: int = 3):
    losses = _losses(work_dir)
    assert [i for i, _ in losses] == list(range(1, n_iters + 1))
    values = [v for _, v in losses]
    assert all(math.isfinite(v) for v in values), values
    assert values[-1] < values[0], f"loss did not decrease on a fixed batch: {values}"
    assert (work_dir / ckpt_name).is_file()


def _check_resumed(work_dir: Path, ckpt_name: str, it: int, logged_before: int):
    resumed = _losses(work_dir)[logged_before:]
    assert [i for i, _ in resumed] == [it], "resume must continue at the saved iteration"
    ckpt = torch.load(work_dir / ckpt_name, map_location="cpu", weights_only=True)  # safe load of a Runner ckpt
    assert ckpt["meta"]["iter"] == it


@pytest.mark.slow
def test_detection_mask_rcnn(coco_root, tmp_path):
    wd = tmp_path / "work"
    cfg = write_config(tmp_path / "det_a.py", DET_CFG, tiny_det_body(coco_root, wd, max_epochs=3))
    _train(cfg)
    _check_train(wd, "epoch_3.pth")
    cfg_b = write_config(tmp_path / "det_b.py", DET_CFG, tiny_det_body(coco_root, wd, max_epochs=4))
    logged = len(_losses(wd))
    _train(cfg_b, "--resume")
    _check_resumed(wd, "epoch_4.pth", 4, logged)
    metrics = _test(cfg_b, wd / "epoch_4.pth", "--work-dir", tmp_path / "test", "--out", tmp_path / "pred.pkl",
                    "--show-dir", tmp_path / "vis")
    for key in ("coco/bbox_mAP", "coco/bbox_mAP_50", "coco/segm_mAP"):
        assert 0.0 <= metrics[key] <= 1.0, metrics
    assert (tmp_path / "pred.pkl").is_file()
    assert len(list((tmp_path / "vis").glob("*.png"))) == 2  # mmdet's DetVisualizationHook: one per test image


@pytest.mark.slow
def test_segmentation_upernet(ade_root, tmp_path):
    wd = tmp_path / "work"
    cfg = write_config(tmp_path / "seg_a.py", SEG_CFG, tiny_seg_body(ade_root, wd, max_iters=3))
    _train(cfg)
    _check_train(wd, "iter_3.pth")
    cfg_b = write_config(tmp_path / "seg_b.py", SEG_CFG, tiny_seg_body(ade_root, wd, max_iters=4))
    logged = len(_losses(wd))
    _train(cfg_b, "--resume", wd / "iter_3.pth")
    _check_resumed(wd, "iter_4.pth", 4, logged)
    # a fresh visualizer name: mmengine keeps one visualizer per name per process (the training run's save_dir)
    metrics = _test(cfg_b, wd / "iter_4.pth", "--work-dir", tmp_path / "test", "--show-dir", tmp_path / "vis",
                    "--cfg-options", f"visualizer.name=seg_test_{abs(hash(str(tmp_path)))}")
    assert 0.0 <= float(metrics["mIoU"]) <= 100.0 and 0.0 < float(metrics["aAcc"]) <= 100.0, metrics
    assert len(list((tmp_path / "vis").rglob("*.png"))) == 2  # one picture per test image


@pytest.mark.slow
def test_classification(imagenet_root, tmp_path):
    wd = tmp_path / "work"
    cfg = write_config(tmp_path / "cls_a.py", CLS_CFG, tiny_cls_body(imagenet_root, wd, max_epochs=3))
    _train(cfg)
    _check_train(wd, "epoch_3.pth")
    cfg_b = write_config(tmp_path / "cls_b.py", CLS_CFG, tiny_cls_body(imagenet_root, wd, max_epochs=4))
    logged = len(_losses(wd))
    _train(cfg_b, "--resume")
    _check_resumed(wd, "epoch_4.pth", 4, logged)
    metrics = _test(cfg_b, wd / "epoch_4.pth", "--work-dir", tmp_path / "test", "--show-dir", tmp_path / "vis")
    assert len(list((tmp_path / "vis").glob("*.png"))) == 8  # ClsVisualizationHook: one per test image
    # 8 test images: top-1 is a multiple of 12.5 %, top-2 over 2 classes is always 100 %
    assert metrics["accuracy/top1"] in [12.5 * k for k in range(9)] and metrics["accuracy/top2"] == 100.0


@pytest.mark.slow
def test_missing_dataset_names_expected_layout(tmp_path):
    cfg = write_config(tmp_path / "det_missing.py", DET_CFG, "train_dataloader = dict(dataset=dict("
                       f"data_root={str(tmp_path / 'nowhere') + '/'!r}))\n")
    with pytest.raises(AssertionError) as e:
        run_tool([ROOT / "tools" / "train.py", cfg, "--work-dir", tmp_path / "w"])
    out = str(e.value)  # one error line with the expected layout, no traceback
    assert "error: train dataset (CocoDataset)" in out and "annotations/instances_train2017.json" in out, out
    assert "Traceback" not in out
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").glob("*.pth"))
