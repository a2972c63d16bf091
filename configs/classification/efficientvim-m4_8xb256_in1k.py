# EfficientViM-M4: ImageNet-1k, 256x256 (official classification/train.sh: 8 GPUs x 256 images, 300 or 450
# epochs). timm's model; the schedule here is the shared Swin/DeiT recipe, not the official one.
_base_ = [
    '../_base_/models/timm_classifier.py',
    '../_base_/datasets/imagenet_timm_224.py',
    '../_base_/schedules/swin_adamw_300e_bs1024.py',
    '../_base_/default_runtime.py',
]
model = dict(model_name='efficientvim_m4')
train_dataloader = dict(batch_size=256)  # per GPU, 8 GPUs (lr scales by auto_scale_lr)
_train_256 = [
    dict(type='visionssm.TimmClsTransform', input_size=256, is_training=True, interpolation='bicubic',
         auto_augment='rand-m9-mstd0.5-inc1', color_jitter=0.4, re_prob=0.25, re_mode='pixel', re_count=1),
    dict(type='visionssm.PackClsInputs'),
]
_test_256 = [
    dict(type='visionssm.TimmClsTransform', input_size=256, is_training=False, interpolation='bicubic', crop_pct=0.875),
    dict(type='visionssm.PackClsInputs'),
]
train_dataloader = dict(batch_size=256, dataset=dict(pipeline=_train_256))
val_dataloader = dict(dataset=dict(pipeline=_test_256))
test_dataloader = dict(dataset=dict(pipeline=_test_256))
