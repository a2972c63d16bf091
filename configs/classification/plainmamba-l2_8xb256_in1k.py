# PlainMamba-L2 (plain_mamba_configs/plain_mamba_l2_in1k_300e.py: 8 GPUs x 256, AdamW lr 5e-4 x batch/512, wd 0.05,
# drop path 0.2, grad clip 1.0, 20 warm-up epochs, mixup 0.8 / cutmix 1.0, label smoothing 0.1): ImageNet-1k, 224x224.
_base_ = [
    '../_base_/models/timm_classifier.py',
    '../_base_/datasets/imagenet_timm_224.py',
    '../_base_/schedules/swin_adamw_300e_bs1024.py',
    '../_base_/default_runtime.py',
]
model = dict(model_name='plainmamba_l2', drop_path_rate=0.2)
train_dataloader = dict(batch_size=256)
optim_wrapper = dict(optimizer=dict(lr=0.002), clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=280, eta_min=1e-5, by_epoch=True, begin=20, end=300,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=2048)
