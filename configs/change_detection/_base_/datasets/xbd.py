# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# xBD (train|test/images/<name>_{pre,post}_disaster.png + targets/<name>_{pre,post}_disaster_target.png or masks/).
_base_ = './change_detection.py'
data_root = 'data/xBD'
train_dataloader = dict(dataset=dict(task='bda', data_root=data_root))
val_dataloader = dict(dataset=dict(task='bda', data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(task='bda')
test_evaluator = val_evaluator
