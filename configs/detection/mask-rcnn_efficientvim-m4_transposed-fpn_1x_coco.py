# EfficientViM-M4 Mask R-CNN, COCO 1x (official detection/configs/mask_rcnn_efficientvim_fpn_1x_coco.py; paper:
# 39.7 box AP / 36.4 mask AP). The backbone's three maps (strides 16, 32, 64) are layer-normed (the official neck's
# pre_norm) and the neck adds strides 4 and 8 with two transposed convolutions: levels 4..64 for the RPN/RoI heads.
# Official optimizer: AdamW lr 2e-4, wd 0.05, 500-iter warm-up, steps at 8 and 11.
_base_ = './_base_/mask-rcnn_visionssm_fpn_1x_coco.py'
model = dict(
    backbone=dict(model_name='efficientvim_m4', out_indices=(0, 1, 2)),
    neck=dict(_delete_=True, type='visionssm.TransposedFPN', in_channels=[224, 320, 512], out_channels=256, num_outs=5,
              num_trans_levels=2, extra='pool'),
)
optim_wrapper = dict(optimizer=dict(lr=0.0002, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
