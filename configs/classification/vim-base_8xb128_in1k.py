# Vim-B: ImageNet-1k, 224x224.
_base_ = [
    '../_base_/models/timm_classifier.py',
    '../_base_/datasets/imagenet_timm_224.py',
    '../_base_/schedules/deit_adamw_300e_bs1024.py',
    '../_base_/default_runtime.py',
]
model = dict(model_name='vim_base')  # drop path: the variant's default
