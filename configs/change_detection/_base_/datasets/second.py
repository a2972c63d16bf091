# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# SECOND (train|test/im1, im2, label1, label2 RGB labels, or ChangeMamba T1, T2, GT_CD, GT_T1, GT_T2).
# Layout is detected from the folders (layout='auto'); an optional list file per split goes in ann_file.
# Recipe: random 256x256 crop, horizontal/vertical flips, rot90; ImageNet mean/std on 0-255 pixels.
data_root = 'data/SECOND'
crop_size = 256
train_dataloader = dict(
    batch_size=16, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='visionssm.ChangeDetectionDataset', task='scd', data_root=data_root, split='train',
                 augment=dict(crop_size=crop_size)))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='visionssm.ChangeDetectionDataset', task='scd', data_root=data_root, split='test'))
test_dataloader = val_dataloader
val_evaluator = dict(type='visionssm.ChangeDetectionMetric', task='scd')
test_evaluator = val_evaluator
