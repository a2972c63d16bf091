# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# SYSU-CD (train|val|test/time1, time2, label; 256x256).
_base_ = './change_detection.py'
data_root = 'data/SYSU-CD'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
