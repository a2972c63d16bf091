# UperNet, ADE20K 512x512, 160k iterations: the recipe the official VMamba-family segmentation configs inherit
# from mmseg's Swin config (AdamW lr 6e-5, wd 0.01, 1500-iter linear warm-up, poly decay), 4 GPUs x 4 images.
# A variant config sets model.backbone.model_name / drop_path_rate and the heads' in_channels.
_base_ = './upernet_ade20k-512x512.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='visionssm.VisionSSMBackbone',
        pretrained=True,  # the variant's released ImageNet-1k weights
        out_indices=(0, 1, 2, 3),
        out_norm='ln2d',
    ),
)
optim_wrapper = dict(optimizer=dict(lr=6e-5, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_dataloader = dict(batch_size=4)  # per GPU, 4 GPUs
