# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# WHU-CD 256x256 crops (train|test/A, B, label, or ChangeMamba T1, T2, GT).
_base_ = './change_detection.py'
data_root = 'data/WHU-CD'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
