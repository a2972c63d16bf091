# Vim-Ti stride-8 fine-tune: ImageNet-1k, 224x224.
_base_ = [
    '../_base_/models/timm_classifier.py',
    '../_base_/datasets/imagenet_timm_224.py',
    '../_base_/schedules/vim_stride8_finetune_30e.py',
    '../_base_/default_runtime.py',
]
# starts from the released stride-16 ImageNet checkpoint (the official --finetune file)
model = dict(model_name='vim_tiny_stride8', drop_path_rate=0.0,
             init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/hustvl/Vim-tiny-midclstok/resolve/main/vim_t_midclstok_76p1acc.pth'))
