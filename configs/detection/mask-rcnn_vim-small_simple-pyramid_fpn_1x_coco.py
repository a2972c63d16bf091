# Vim on mmdet: Mask R-CNN + FPN over Vim's simple feature pyramid (ViTDet style: the last block feeds the
# 4x/2x/1x/0.5x branches). Our adaptation; the official Vim detection is Cascade Mask R-CNN in detectron2.
_base_ = './_base_/mask-rcnn_visionssm_fpn_1x_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='visionssm.VisionSSMSimplePyramid', model_name='vim_small', pretrained=True,
                  out_indices=(23,), scales=(4.0, 2.0, 1.0, 0.5), norm_cfg=dict(type='SyncBN', requires_grad=True),
                  drop_path_rate=0.1),
    neck=dict(in_channels=[384, 384, 384, 384]))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay=0.92))  # Vim's layer-wise lr decay (as in its segmentation)
