# UperNet, ADE20K 512x512, 160k iterations: the recipe the official VMamba-family segmentation configs inherit
# from mmseg's Swin config (AdamW lr 6e-5, wd 0.01, 1500-iter linear warm-up, poly decay), 4 GPUs x 4 images.
# A variant config sets model.backbone.model_name / drop_path_rate and the heads' in_channels.
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['visionssm.mm'], allow_failed_imports=False)

crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        _delete_=True,
        type='visionssm.VisionSSMBackbone',
        pretrained=True,  # the variant's released ImageNet-1k weights
        out_indices=(0, 1, 2, 3),
        out_norm='ln2d',
    ),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_dataloader = dict(batch_size=4)  # per GPU, 4 GPUs
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
