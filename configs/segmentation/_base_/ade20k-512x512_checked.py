# mmseg's ADE20K 512x512 data settings with visionssm.CheckSegMapSize after LoadAnnotations, shared by every
# ADE20K recipe here.
_base_ = ['mmseg::_base_/datasets/ade20k.py']

crop_size = (512, 512)
# mmseg's ADE20K pipelines plus visionssm.CheckSegMapSize after LoadAnnotations: a label map whose size differs
# from its image's is refused (mmseg would stretch it in training; the metric would fail in validation).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='visionssm.CheckSegMapSize'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='visionssm.CheckSegMapSize'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
