# Vim's segmentation recipe (hustvl/Vim seg/configs/vim/upernet/upernet_vim_*_24_512_slide_60k.py), on mmseg 1.x:
# UperNet on a simple feature pyramid over blocks (5, 11, 17, 23), 60k iterations, AdamW lr 1e-4, wd 0.05,
# layer-wise lr decay 0.92, 1500-iter warm-up then poly decay, 8 GPUs x 2 images, sliding-window inference.
_base_ = './upernet_ade20k-512x512.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='visionssm.VisionSSMSimplePyramid',
        pretrained=True,
        img_size=512,
        out_indices=(5, 11, 17, 23),
        scales=(4.0, 2.0, 1.0, 0.5),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
    ),
    auxiliary_head=dict(in_index=2),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
)
optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.05), paramwise_cfg=dict(layer_decay=0.92))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=60000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=60000, val_interval=6000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=6000))
train_dataloader = dict(batch_size=2)
