# DeiT's recipe as run by Vim (vim/main.py): AdamW lr 5e-4 x batch/512 (1e-3 @ 1024), 5 warm-up epochs from 1e-6,
# cosine to 1e-5 over 300 epochs, no grad clip, EMA 0.99996. Vim-Ti: wd 0.1, drop path 0; Vim-S: wd 0.05, 0.05.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=295, eta_min=1e-5, by_epoch=True, begin=5, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]  # decay 0.99996
auto_scale_lr = dict(base_batch_size=1024)
