# EfficientVMamba-S (dims 64, as released): ImageNet-1k, 224x224.
_base_ = [
    '../_base_/models/timm_classifier.py',
    '../_base_/datasets/imagenet_timm_224.py',
    '../_base_/schedules/swin_adamw_300e_bs1024.py',
    '../_base_/default_runtime.py',
]
model = dict(model_name='efficient_vmamba_small')  # drop path: the variant's default
