_base_ = './_base_/mask-rcnn_visionssm_fpn_1x_coco.py'
model = dict(backbone=dict(model_name='vmamba_small_s2l15', drop_path_rate=0.3), neck=dict(in_channels=[96, 192, 384, 768]))
