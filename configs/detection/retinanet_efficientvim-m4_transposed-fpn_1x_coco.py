# EfficientViM-M4 RetinaNet, COCO 1x (official detection/configs/retinanet_efficientvim_fpn_1x_coco.py; paper:
# 38.8 box AP). Levels 8..128: one transposed-conv level (stride 8) above the backbone's strides 16, 32, 64 and one
# stride-2 conv on the last backbone map (stride 128). AdamW lr 2e-4, wd 0.05, 500-iter warm-up, steps at 8 and 11.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['visionssm.mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='visionssm.VisionSSMBackbone', model_name='efficientvim_m4', pretrained=True,
                  out_indices=(0, 1, 2), out_norm='ln2d'),
    neck=dict(_delete_=True, type='visionssm.TransposedFPN', in_channels=[224, 320, 512], out_channels=256, num_outs=5,
              num_trans_levels=1, extra='on_input'),
)
train_dataloader = dict(batch_size=2)  # per GPU, 8 GPUs
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
)
