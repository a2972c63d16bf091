_base_ = './_base_/mask-rcnn_visionssm_fpn_1x_coco.py'
model = dict(backbone=dict(model_name='spatial_mamba_small', drop_path_rate=0.3), neck=dict(in_channels=[64, 128, 256, 512]))
