# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba SCD recipe (train_MambaSCD.py + README): AdamW lr 1e-4, wd 5e-4, StepLR(10k iterations, x0.5),
# batch 16, 800k samples = 50k iterations, validation every 500 iterations (best checkpoint by SeK).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=5e-4))
param_scheduler = [dict(type='StepLR', step_size=10000, gamma=0.5, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=50000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=16)
