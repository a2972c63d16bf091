# Swin's ImageNet recipe, used by VMamba, MSVMamba, Spatial-Mamba, VSSD and EfficientVMamba:
# AdamW lr 1e-3 @ batch 1024 (5e-4 x 1024/512), wd 0.05 (none on norms, biases, A_log/D/dt bias, pos-embeds),
# 20 warm-up epochs from 1e-6, cosine to 1e-5 over 300 epochs, grad clip 5.0, EMA 0.9999.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='visionssm.TimmParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=280, eta_min=1e-5, by_epoch=True, begin=20, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]  # decay 0.9999
auto_scale_lr = dict(base_batch_size=1024)
