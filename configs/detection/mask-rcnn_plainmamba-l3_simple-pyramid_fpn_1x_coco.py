# PlainMamba-L3 on mmdet: Mask R-CNN 1x + FPN over a simple feature pyramid from the last layer (ViTDet style).
# Our adaptation: the official detector wraps PlainMamba in its PlainMamba-Adapter (a different backbone, README
# 44.1/46.0/46.8 box AP for L1/L2/L3), which visionssm does not ship.
_base_ = './_base_/mask-rcnn_visionssm_fpn_1x_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='visionssm.VisionSSMSimplePyramid', model_name='plainmamba_l3', pretrained=True,
                  out_indices=(35,), scales=(4.0, 2.0, 1.0, 0.5), norm_cfg=dict(type='SyncBN', requires_grad=True),
                  drop_path_rate=0.1),
    neck=dict(in_channels=[448, 448, 448, 448]))
