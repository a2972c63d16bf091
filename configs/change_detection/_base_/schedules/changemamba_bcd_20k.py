# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba BCD recipe (train_MambaBCD.py + README): AdamW lr 1e-4, wd 5e-4, constant lr,
# batch 16, 320k samples = 20k iterations, validation every 500 iterations (the config keeps the best checkpoint by Kappa, as the script).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=5e-4))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=16)
