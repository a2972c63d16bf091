# Mask R-CNN + FPN, COCO, 1x (12 epochs): the recipe the official VMamba-family detection configs inherit from
# mmdet's Swin config (AdamW lr 1e-4, wd 0.05, 1000-iter warm-up, steps at 8 and 11, 8 GPUs x 2 images).
# A variant config sets model.backbone.model_name / drop_path_rate and model.neck.in_channels.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['visionssm.mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='visionssm.VisionSSMBackbone',
        pretrained=True,  # the variant's released ImageNet-1k weights (see its model card)
        out_indices=(0, 1, 2, 3),
        out_norm='ln2d',
    ),
)

train_dataloader = dict(batch_size=2)  # per GPU, 8 GPUs
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='coco/bbox_mAP', rule='greater'))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',  # no decay on norms, biases and the SSM's A_log/D/dt bias
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
)
