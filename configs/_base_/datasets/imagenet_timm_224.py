# ImageNet-1k in folder layout (<data_root>/{train,val}/<class>/<image>), timm's transforms at 224x224.
dataset_type = 'visionssm.ImageNetFolder'
data_root = 'data/imagenet/'

train_pipeline = [
    dict(type='visionssm.TimmClsTransform', input_size=224, is_training=True, interpolation='bicubic',
         auto_augment='rand-m9-mstd0.5-inc1', color_jitter=0.4, re_prob=0.25, re_mode='pixel', re_count=1),
    dict(type='visionssm.PackClsInputs'),
]
test_pipeline = [
    dict(type='visionssm.TimmClsTransform', input_size=224, is_training=False, interpolation='bicubic', crop_pct=0.875),
    dict(type='visionssm.PackClsInputs'),
]

train_dataloader = dict(
    batch_size=128,  # per GPU; 8 GPUs -> 1024
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline),
)
val_evaluator = dict(type='visionssm.TopKAccuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
