# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# LEVIR-CD (train|val|test/A, B, label; 1024x1024 png, 0/255 masks).
_base_ = './change_detection.py'
data_root = 'data/LEVIR-CD'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
