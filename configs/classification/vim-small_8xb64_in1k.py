# Vim-S (vim/scripts/pt-vim-s.sh: batch 8x64, wd 0.05, drop path 0.05): ImageNet-1k, 224x224.
_base_ = [
    '../_base_/models/timm_classifier.py',
    '../_base_/datasets/imagenet_timm_224.py',
    '../_base_/schedules/deit_adamw_300e_bs1024.py',
    '../_base_/default_runtime.py',
]
model = dict(model_name='vim_small', drop_path_rate=0.05)
train_dataloader = dict(batch_size=64)  # 8 GPUs -> 512, lr 5e-4 x 512/512
optim_wrapper = dict(optimizer=dict(lr=5e-4, weight_decay=0.05))
auto_scale_lr = dict(base_batch_size=512)
