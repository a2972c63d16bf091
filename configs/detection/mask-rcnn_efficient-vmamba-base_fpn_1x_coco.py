_base_ = './_base_/mask-rcnn_visionssm_fpn_1x_coco.py'
model = dict(backbone=dict(model_name='efficient_vmamba_base', drop_path_rate=0.5), neck=dict(in_channels=[96, 192, 384, 768]))
