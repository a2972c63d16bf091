# EfficientViM-M4 Semantic FPN, ADE20K 512x512 (official segmentation/configs/sem_fpn/fpn_efficientvim_m4_ade20k_40k.py;
# paper: 41.3 mIoU): mmseg's FPN (4 outputs) + FPNHead over the backbone's raw maps at strides 16, 32, 64 (no output
# norm), 8 GPUs x 4 images, AdamW lr 2e-4, wd 1e-4, poly decay (power 0.9, min lr 1e-6) over 40k iterations.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    './_base_/ade20k-512x512_checked.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['visionssm.mm'], allow_failed_imports=False)

crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(_delete_=True, type='visionssm.VisionSSMBackbone', model_name='efficientvim_m4', pretrained=True,
                  out_indices=(0, 1, 2), out_norm=None),
    neck=dict(in_channels=[224, 320, 512], num_outs=4),
    decode_head=dict(num_classes=150),
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.0001),
)
param_scheduler = [dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=0, end=40000, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000, save_best='mIoU', rule='greater'))
train_dataloader = dict(batch_size=4)  # per GPU, 8 GPUs
