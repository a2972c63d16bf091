# RSMamba-B on NWPU-RESISC45 (45 classes, 31,500 256x256 images): the official configs/rsmamba/rsmamba_nwpu_b.py recipe.
# Data: the download layout <data_root>/<class>/<image> with the official split lists (copy RSMamba's datainfo/NWPU/
# {train,val}.txt next to the data); class ids in the official order (so released heads evaluate correctly);
# normalisation by the dataset's own mean/std (datainfo/NWPU/meanstd.txt). Training: 500 epochs, batch 16,
# AdamW lr 5e-4 wd 0.05, 10 warm-up epochs, cosine to 1e-5, RandomResizedCrop(224, scale 0.4-1) + h/v flips +
# AutoAugment, mixup 0.8 / cutmix 1.0, label smoothing 0.1; eval: resize the short side to 256, centre crop 224.
_base_ = ['../_base_/models/timm_classifier.py', '../_base_/default_runtime.py']

classes = [
    'river', 'terrace', 'snowberg', 'stadium', 'parking_lot', 'thermal_power_station', 'rectangular_farmland',
    'cloud', 'intersection', 'meadow', 'palace', 'ground_track_field', 'commercial_area', 'beach', 'church',
    'baseball_diamond', 'ship', 'industrial_area', 'bridge', 'freeway', 'medium_residential', 'circular_farmland',
    'mobile_home_park', 'railway', 'forest', 'sparse_residential', 'harbor', 'wetland', 'mountain', 'airport',
    'golf_course', 'overpass', 'dense_residential', 'chaparral', 'basketball_court', 'airplane', 'tennis_court',
    'runway', 'storage_tank', 'island', 'railway_station', 'lake', 'sea_ice', 'desert', 'roundabout'
]
data_root = 'data/NWPU-RESISC45'
split_dir = 'data/rsmamba_datainfo/NWPU'
mean, std = (0.36803, 0.38118, 0.34379), (0.14550, 0.13575, 0.13216)

model = dict(model_name='rsmamba_b', num_classes=45)
train_pipeline = [
    dict(type='visionssm.TimmClsTransform', input_size=224, is_training=True, interpolation='bicubic', scale=(0.4, 1.0),
         hflip=0.5, vflip=0.5, auto_augment='original', re_prob=0.0, mean=mean, std=std),
    dict(type='visionssm.PackClsInputs'),
]
test_pipeline = [
    dict(type='visionssm.TimmClsTransform', input_size=224, is_training=False, interpolation='bicubic', crop_pct=0.875,
         mean=mean, std=std),
    dict(type='visionssm.PackClsInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='visionssm.SceneFolder', data_root=data_root, ann_file=split_dir + '/train.txt', classes=classes,
                 pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='visionssm.SceneFolder', data_root=data_root, ann_file=split_dir + '/val.txt', classes=classes,
                 pipeline=test_pipeline),
)
val_evaluator = dict(type='visionssm.TopKAccuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10, end=500, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=500, val_interval=20)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
