# VM-UNet ISIC recipe (JCruan519/VM-UNet configs/config_setting.py): 256x256, batch 32, 300 epochs,
# AdamW lr 1e-3 wd 1e-2, CosineAnnealingLR(T_max=50, eta_min=1e-5) stepped per epoch, BCE + Dice (1:1),
# drop_path 0.3, flips + rotation, threshold 0.5, encoder from VMamba-S v0 (vmamba_small_e238_ema.pth).
_base_ = ['./medical_runtime.py']
data_root = 'data/isic2018/'
model = dict(
    type='visionssm.MedSegModel',
    model=dict(name='vm_unet', num_classes=1, in_chans=3, depths=(2, 2, 2, 2), depths_decoder=(2, 2, 2, 1),
               drop_path_rate=0.3),
    loss=dict(type='bce_dice', wb=1.0, wd=1.0),
    threshold=0.5,
    pretrained='pretrained/vmamba_small_e238_ema.pth',
)
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='visionssm.ISICDataset', data_root=data_root, split='train', size=256))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='visionssm.ISICDataset', data_root=data_root, split='val', size=256))
test_dataloader = val_dataloader
val_evaluator = dict(type='visionssm.MedSegMetric', num_classes=2, class_names=('background', 'lesion'),
                     compute_hd95=False)
test_evaluator = dict(type='visionssm.MedSegMetric', num_classes=2, class_names=('background', 'lesion'))
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=50, eta_min=1e-5, by_epoch=True, begin=0, end=300)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=30)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# ISIC "mIoU"/"DSC" in the papers are pixel-pooled over the test set: read medseg/pooled_IoU, medseg/pooled_Dice.
