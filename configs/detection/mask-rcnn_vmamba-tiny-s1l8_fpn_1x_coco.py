_base_ = './_base_/mask-rcnn_visionssm_fpn_1x_coco.py'
model = dict(backbone=dict(model_name='vmamba_tiny_s1l8', drop_path_rate=0.2), neck=dict(in_channels=[96, 192, 384, 768]))
