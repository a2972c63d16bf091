# Vim-Ti (vim/scripts/pt-vim-t.sh: batch 8x128, wd 0.1, drop path 0): ImageNet-1k, 224x224.
_base_ = [
    '../_base_/models/timm_classifier.py',
    '../_base_/datasets/imagenet_timm_224.py',
    '../_base_/schedules/deit_adamw_300e_bs1024.py',
    '../_base_/default_runtime.py',
]
model = dict(model_name='vim_tiny', drop_path_rate=0.0)
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))
