# EfficientViM-M2: ImageNet-1k, 224x224 (official classification/train.sh: 8 GPUs x 256 images, 300 or 450
# epochs). timm's model; the schedule here is the shared Swin/DeiT recipe, not the official one.
_base_ = [
    '../_base_/models/timm_classifier.py',
    '../_base_/datasets/imagenet_timm_224.py',
    '../_base_/schedules/swin_adamw_300e_bs1024.py',
    '../_base_/default_runtime.py',
]
model = dict(model_name='efficientvim_m2')
train_dataloader = dict(batch_size=256)  # per GPU, 8 GPUs (lr scales by auto_scale_lr)
