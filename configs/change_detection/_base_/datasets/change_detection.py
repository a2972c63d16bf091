# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# Data pipeline shared by the change-detection datasets; each dataset file sets `data_root` into both dataloaders
# (and `task` where it is not binary change detection, 'bcd').
# Layout is detected from the folders (layout='auto'); an optional list file per split goes in ann_file.
# Recipe: random 256x256 crop, horizontal/vertical flips, rot90; ImageNet mean/std on 0-255 pixels.
crop_size = 256
train_dataloader = dict(
    batch_size=16, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='visionssm.ChangeDetectionDataset', task='bcd', split='train',
                 augment=dict(crop_size=crop_size)))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='visionssm.ChangeDetectionDataset', task='bcd', split='test'))
test_dataloader = val_dataloader
val_evaluator = dict(type='visionssm.ChangeDetectionMetric', task='bcd')
test_evaluator = val_evaluator
