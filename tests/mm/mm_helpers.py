"""Helpers for the OpenMMLab tests: tiny datasets in the real on-disk formats (generated, nothing is downloaded),
shrunk child configs of the real configs, and running the tools.

- COCO: 4 images 64x64 with filled squares / triangles drawn at known places; instances json with exact boxes,
  polygons and areas (2 categories).
- ADE20K: ``images/{training,validation}/*.jpg`` + ``annotations/*/*.png`` (labels 0 = "other", 1..3).
- ImageNet: ``{train,val}/<class>/*.png``, two classes told apart by colour.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"

# Tiny VMamba-v2 backbone used by the det/seg end-to-end tests (the shared SMALL_TEST_CONFIGS size).
TINY_BACKBONE = {"model_name": "vmamba_tiny_s1l8", "pretrained": False, "depths": (1, 1, 2, 1), "dims": 16}
TINY_CHANNELS = [16, 32, 64, 128]

COCO_CLASSES = ("square", "triangle")


def _background(rng, size=64):
    return (rng.random((size, size, 3)) * 60 + 40).astype(np.uint8)


def _coco_shapes(i):
    """Two shapes per image; their coordinates depend on the image index."""
    o = 4 * i
    square = [(8 + o, 8), (30 + o, 8), (30 + o, 30), (8 + o, 30)]
    triangle = [(36, 40 - o), (60, 40 - o), (48, 60 - o)]
    return [(0, square, (230, 40, 40)), (1, triangle, (40, 230, 40))]


def _polygon_area(pts):
    x, y = np.array(pts, dtype=float).T
    return float(0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def make_coco(root: Path, n: int = 4) -> Path:
    rng = np.random.default_rng(0)
    (root / "annotations").mkdir(parents=True)
    for split in ("train2017", "val2017"):
        (root / split).mkdir()
    images, anns = [], []
    for i in range(n):
        img = Image.fromarray(_background(rng))
        draw = ImageDraw.Draw(img)
        name = f"{i:012d}.png"
        for cat, pts, colour in _coco_shapes(i):
            draw.polygon(pts, fill=colour)
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cat + 1, "iscrowd": 0,
                             "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                             "area": _polygon_area(pts), "segmentation": [[float(c) for p in pts for c in p]]})
        for split in ("train2017", "val2017"):
            img.save(root / split / name)
        images.append({"id": i + 1, "file_name": name, "width": 64, "height": 64})
    cats = [{"id": k + 1, "name": c, "supercategory": "shape"} for k, c in enumerate(COCO_CLASSES)]
    for split in ("train2017", "val2017"):
        with open(root / "annotations" / f"instances_{split}.json", "w") as f:
            json.dump({"images": images, "annotations": anns, "categories": cats}, f)
    return root


def make_ade(root: Path, n: int = 4) -> Path:
    rng = np.random.default_rng(1)
    for split in ("training", "validation"):
        (root / "images" / split).mkdir(parents=True)
        (root / "annotations" / split).mkdir(parents=True)
    for i in range(n):
        img = _background(rng)
        label = np.zeros((64, 64), np.uint8)
        label[8:32, 8:40] = 1
        label[36:60, 4 + 2 * i:30 + 2 * i] = 2
        label[30:62, 40:62] = 3
        for value, colour in ((1, (220, 30, 30)), (2, (30, 220, 30)), (3, (30, 30, 220))):
            img[label == value] = colour
        for split in ("training", "validation"):
            Image.fromarray(img).save(root / "images" / split / f"ADE_{i:04d}.jpg", quality=95)
            Image.fromarray(label).save(root / "annotations" / split / f"ADE_{i:04d}.png")
    return root


def make_imagenet(root: Path, per_class: int = 4) -> Path:
    rng = np.random.default_rng(2)
    for split in ("train", "val"):
        for c, (name, colour) in enumerate((("n00000001", (200, 40, 40)), ("n00000002", (40, 40, 200)))):
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(per_class):
                img = _background(rng)
                img[16:48, 16:48] = colour
                Image.fromarray(img).save(d / f"img_{c}_{i}.png")
    return root


def run_tool(args, cwd=ROOT, env_extra=None, timeout=600):
    """Run ``python tools/<x>.py ...`` (or any argv) in a subprocess with 1 thread per process."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.update(env_extra or {})
    res = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise AssertionError(f"{args} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-6000:]}")
    return res


def write_config(path: Path, base: Path, body: str) -> Path:
    """A test config inheriting a real one (absolute ``_base_``) and shrinking it."""
    path.write_text(f"_base_ = [{str(base)!r}]\n{body}")
    return path


def tiny_det_body(coco: Path, work_dir: Path, max_epochs: int = 1, lr: float = 3e-4, n: int = 2) -> str:
    """Overrides for a Mask R-CNN config: tiny backbone/neck/heads, 64x64 images, our 2-class COCO.

    The first ``n`` images, unshuffled, batch 2: every iteration sees the same batch. Constant lr (no warm-up).
    """
    c = 32
    return f"""
model = dict(
    backbone=dict(**{TINY_BACKBONE!r}),
    neck=dict(in_channels={TINY_CHANNELS!r}, out_channels={c}),
    rpn_head=dict(in_channels={c}, feat_channels={c}),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels={c}),
        bbox_head=dict(in_channels={c}, fc_out_channels=64, num_classes=2),
        mask_roi_extractor=dict(out_channels={c}),
        mask_head=dict(in_channels={c}, conv_out_channels={c}, num_classes=2)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=200, max_per_img=100), rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100), rcnn=dict(max_per_img=20)))
metainfo = dict(classes={COCO_CLASSES!r})
_pipe_train = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs'),
]
_pipe_test = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        sampler=dict(type='DefaultSampler', shuffle=False),
                        dataset=dict(data_root={str(coco) + '/'!r}, metainfo=metainfo, pipeline=_pipe_train,
                                     filter_cfg=dict(filter_empty_gt=False), indices={n}))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={str(coco) + '/'!r}, metainfo=metainfo, pipeline=_pipe_test,
                                    indices={n}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={str(coco / 'annotations' / 'instances_val2017.json')!r})
test_evaluator = val_evaluator
train_cfg = dict(max_epochs={max_epochs}, val_interval=100)
randomness = dict(seed=0)  # proposal sampling is random: fix it so "loss decreases on a fixed batch" is repeatable
val_cfg = None
val_dataloader = None
val_evaluator = None
optim_wrapper = dict(optimizer=dict(lr={lr}))
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), visualization=dict(draw=False))
visualizer = dict(name='det_{max_epochs}_{abs(hash(str(work_dir)))}')  # mmengine singletons: unique per run
work_dir = {str(work_dir)!r}
"""


def tiny_seg_body(ade: Path, work_dir: Path, max_iters: int = 1, lr: float = 1e-3, n: int = 2) -> str:
    """Overrides for an UperNet config: tiny backbone and heads, 64x64 crops of our ADE-style folder."""
    return f"""
norm_cfg = dict(type='BN', requires_grad=True)
crop_size = (64, 64)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(**{TINY_BACKBONE!r}),
    decode_head=dict(in_channels={TINY_CHANNELS!r}, channels=32, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels={TINY_CHANNELS[2]}, channels=16, norm_cfg=norm_cfg))
_pipe_train = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackSegInputs'),
]
_pipe_test = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        sampler=dict(type='InfiniteSampler', shuffle=False),
                        dataset=dict(data_root={str(ade)!r}, pipeline=_pipe_train, indices={n}))
test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                       dataset=dict(data_root={str(ade)!r}, pipeline=_pipe_test, indices={n}))
train_cfg = dict(max_iters={max_iters}, val_interval=1000)
randomness = dict(seed=0)
val_cfg = None
val_dataloader = None
val_evaluator = None
optim_wrapper = dict(optimizer=dict(lr={lr}))
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1), visualization=dict(draw=False))
visualizer = dict(name='seg_{max_iters}_{abs(hash(str(work_dir)))}')  # mmengine singletons: unique per run
work_dir = {str(work_dir)!r}
"""


def tiny_cls_body(imagenet: Path, work_dir: Path, max_epochs: int = 1, lr: float = 1e-3, batch: int = 2,
                  n: int = 2) -> str:
    """Overrides for an ImageNet config: tiny VMamba, 64x64 inputs, 2 classes, a fixed unaugmented batch."""
    return f"""
model = dict(num_classes=2, mixup=None, depths=(1, 1, 2, 1), dims=16)
_pipe = [
    dict(type='visionssm.TimmClsTransform', input_size=64, is_training=False, interpolation='bicubic', crop_pct=1.0),
    dict(type='visionssm.PackClsInputs'),
]
train_dataloader = dict(batch_size={batch}, num_workers=0, persistent_workers=False, pin_memory=False,
                        sampler=dict(type='DefaultSampler', shuffle=False),
                        dataset=dict(data_root={str(imagenet)!r}, pipeline=_pipe, indices={n}))
test_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, pin_memory=False,
                       dataset=dict(data_root={str(imagenet)!r}, pipeline=_pipe))
test_evaluator = dict(topk=(1, 2))
train_cfg = dict(max_epochs={max_epochs})
randomness = dict(seed=0)
val_cfg = None
val_dataloader = None
val_evaluator = None
optim_wrapper = dict(optimizer=dict(lr={lr}))
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(save_best=None))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
work_dir = {str(work_dir)!r}
"""
