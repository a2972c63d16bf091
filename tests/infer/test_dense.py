"""Segmentation and detection inference over folders: tiny configs inheriting the real ones, random weights."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytestmark = pytest.mark.mm

ROOT = Path(__file__).resolve().parents[2]
BACKBONE = dict(model_name="vmamba_tiny_s1l8", pretrained=False, depths=(1, 1, 2, 1), dims=16)
CHANNELS = [16, 32, 64, 128]


@pytest.fixture(scope="module")
def mm():
    pytest.importorskip("mmdet")
    pytest.importorskip("mmseg")
    import visionssm.mm  # noqa: F401
    return True


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "imgs"
    (d / "nested").mkdir(parents=True)
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(d / "a.jpg")
    Image.fromarray((rng.random((70, 40)) * 65535).astype(np.uint16)).save(d / "nested" / "b16.png")
    (d / "nested" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return d


def _random_checkpoint(cfg_path: Path, scope: str, classes, out: Path) -> Path:
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    cfg = Config.fromfile(str(cfg_path))
    init_default_scope(scope)
    model = MODELS.build(cfg.model)
    palette = [[(37 * i) % 256, (91 * i) % 256, (151 * i) % 256] for i in range(len(classes))]
    torch.save({"meta": {"dataset_meta": {"classes": tuple(classes), "palette": palette}},
                "state_dict": model.state_dict()}, out)
    return out


def _seg_config(tmp_path: Path, slide: bool) -> Path:
    base = ROOT / "configs/segmentation/upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py"
    test_cfg = "dict(mode='slide', crop_size=(32, 32), stride=(24, 24))" if slide else "dict(mode='whole')"
    body = f"""
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=None, size_divisor=32),
    backbone=dict(**{BACKBONE!r}),
    decode_head=dict(in_channels={CHANNELS!r}, channels=16, norm_cfg=norm_cfg, num_classes=3),
    auxiliary_head=dict(in_channels={CHANNELS[2]}, channels=8, norm_cfg=norm_cfg, num_classes=3),
    test_cfg={test_cfg})
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64), keep_ratio=True),
                 dict(type='LoadAnnotations', reduce_zero_label=True), dict(type='PackSegInputs')]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
"""
    p = tmp_path / f"seg_{'slide' if slide else 'whole'}.py"
    p.write_text(f"_base_ = [{str(base)!r}]\n{body}")
    return p


@pytest.mark.parametrize("slide", [False, True])
def test_segmentation_folder(mm, images, tmp_path, slide):
    from visionssm.cli.infer import main

    cfg = _seg_config(tmp_path, slide)
    ckpt = _random_checkpoint(cfg, "mmseg", ("sky", "road", "tree"), tmp_path / "seg.pth")
    out = tmp_path / "out"
    report = main([str(images), "--config", str(cfg), "--checkpoint", str(ckpt), "--out-dir", str(out),
                   "--no-progress", "--batch-size", "2", "--device", "cpu"])
    assert report.task == "semantic segmentation" and report.num_predicted == 2
    assert [Path(p).name for p, _ in report.failures] == ["broken.jpg"]
    for rel, (h, w) in (("a.png", (48, 64)), ("nested/b16.png", (70, 40))):
        mask = np.asarray(Image.open(out / "masks" / rel))
        assert mask.shape == (h, w) and mask.max() < 3  # class ids at the input's own size
        assert np.asarray(Image.open(out / "overlays" / rel).convert("RGB")).shape == (h, w, 3)
    data = json.loads((out / "predictions.json").read_text())
    assert data["classes"] == ["sky", "road", "tree"] and data["failures"][0]["path"].endswith("broken.jpg")
    for rec in data["predictions"]:
        assert abs(sum(c["fraction"] for c in rec["classes"]) - 1) < 1e-4
    assert (out / "predictions.csv").read_text().startswith("path,mask,label,name,fraction")


def _det_config(tmp_path: Path) -> Path:
    base = ROOT / "configs/detection/mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py"
    c = 16
    body = f"""
model = dict(
    backbone=dict(**{BACKBONE!r}),
    neck=dict(in_channels={CHANNELS!r}, out_channels={c}),
    rpn_head=dict(in_channels={c}, feat_channels={c}),
    roi_head=dict(bbox_roi_extractor=dict(out_channels={c}),
                  bbox_head=dict(in_channels={c}, fc_out_channels=32, num_classes=2),
                  mask_roi_extractor=dict(out_channels={c}),
                  mask_head=dict(in_channels={c}, conv_out_channels={c}, num_classes=2)),
    test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=50), rcnn=dict(score_thr=0.0, max_per_img=5)))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64), keep_ratio=True),
                 dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                 dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline, metainfo=dict(classes=('square', 'triangle'))))
"""
    cfg = tmp_path / "det.py"
    cfg.write_text(f"_base_ = [{str(base)!r}]\n{body}")
    return cfg


def test_detection_folder_with_masks(mm, images, tmp_path):
    from pycocotools import mask as mask_utils

    from visionssm.cli.infer import main

    cfg = _det_config(tmp_path)
    ckpt = _random_checkpoint(cfg, "mmdet", ("square", "triangle"), tmp_path / "det.pth")
    out = tmp_path / "out"
    report = main([str(images), "--config", str(cfg), "--checkpoint", str(ckpt), "--out-dir", str(out),
                   "--no-progress", "--score-thr", "0", "--device", "cpu", "--batch-size", "2"])
    assert report.task == "detection" and report.num_predicted == 2 and len(report.failures) == 1
    data = json.loads((out / "predictions.json").read_text())
    assert data["num_instances"] > 0
    for rec in data["predictions"]:
        for inst in rec["instances"]:
            x1, y1, x2, y2 = inst["bbox"]
            assert 0 <= x1 <= x2 <= rec["width"] and 0 <= y1 <= y2 <= rec["height"]
            assert inst["name"] in ("square", "triangle") and 0 <= inst["score"] <= 1
            rle = dict(inst["segmentation"], counts=inst["segmentation"]["counts"].encode())
            assert mask_utils.decode(rle).shape == (rec["height"], rec["width"])
        assert Image.open(out / "overlays" / Path(rec["path"]).with_suffix(".png")).size == (rec["width"], rec["height"])
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "path,label,name,score,x1,y1,x2,y2" and len(rows) == 1 + data["num_instances"]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["seg", "det"])
def test_cli_guesses_task_in_a_fresh_process(mm, images, tmp_path, task):
    """README's commands, without --task, in a new interpreter: the task is read from the config only after
    visionssm.mm has installed what mmengine needs to read it (it used to die with No module named pkg_resources)."""
    import os
    import subprocess
    import sys

    if task == "seg":
        cfg = _seg_config(tmp_path, slide=False)
        ckpt = _random_checkpoint(cfg, "mmseg", ("sky", "road", "tree"), tmp_path / "ckpt.pth")
    else:
        cfg = _det_config(tmp_path)
        ckpt = _random_checkpoint(cfg, "mmdet", ("square", "triangle"), tmp_path / "ckpt.pth")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "infer.py"), str(images), "--config", str(cfg),
                          "--checkpoint", str(ckpt), "--out-dir", str(out), "--no-progress", "--device", "cpu"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert "2/3 image(s) predicted" in res.stdout and "broken.jpg" in res.stdout
    data = json.loads((out / "predictions.json").read_text())
    assert data["task"] == ("semantic segmentation" if task == "seg" else "detection")
    assert sorted(p["path"] for p in data["predictions"]) == ["a.jpg", "nested/b16.png"]
