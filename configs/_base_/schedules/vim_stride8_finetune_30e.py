# Vim's "finer granularity" fine-tune (stride-8 patch embedding) from the stride-16 ImageNet checkpoint:
# 30 epochs, AdamW lr 5e-6 (warm-up from 1e-5, min 1e-5), wd 1e-8, drop path 0 (vim/scripts/ft-vim-*.sh).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=5e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-8),
)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=30, eta_min=1e-5, by_epoch=True, begin=0, end=30, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]
auto_scale_lr = dict(base_batch_size=1024)
