# PlainMamba-L1 + UperNet (downstream/mmsegmentation/plain_mamba_seg_configs/l1_upernet.py): layers (5, 11, 17, 23), drop path
# 0.1, 160k iterations at 8 x 2 images, AdamW lr 6e-5, wd 0.01 (none on norms, pos_embed, A_log, D, direction_Bs),
# 1500-iter warm-up then poly decay, whole-image inference. The /16 maps become a 4x/2x/1x/0.5x pyramid here with
# visionssm's simple pyramid (ViTDet style).
_base_ = './_base_/upernet_vim_8xb2-60k_ade20k-512x512.py'
model = dict(backbone=dict(model_name='plainmamba_l1', out_indices=(5, 11, 17, 23), drop_path_rate=0.1),
             decode_head=dict(in_channels=[192, 192, 192, 192]), auxiliary_head=dict(in_channels=192, in_index=3),
             test_cfg=dict(_delete_=True, mode='whole'))
optim_wrapper = dict(optimizer=dict(lr=6e-5, weight_decay=0.01), paramwise_cfg=dict(_delete_=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=8000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=8000))
