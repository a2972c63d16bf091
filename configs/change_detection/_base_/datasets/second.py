# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# SECOND (train|test/im1, im2, label1, label2 RGB labels, or ChangeMamba T1, T2, GT_CD, GT_T1, GT_T2).
_base_ = './change_detection.py'
data_root = 'data/SECOND'
train_dataloader = dict(dataset=dict(task='scd', data_root=data_root))
val_dataloader = dict(dataset=dict(task='scd', data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(task='scd')
test_evaluator = val_evaluator
