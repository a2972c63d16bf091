# VM-UNet on Synapse (JCruan519/VM-UNet configs/config_setting_synapse.py): 224x224 slices, 9 classes,
# batch 32, 300 epochs, AdamW lr 1e-3 wd 1e-2, CosineAnnealingLR(T_max=100, eta_min=1e-5), CE + Dice (1:1), drop_path 0.3,
# test on whole h5 volumes slice by slice, Dice and HD95 (voxels) per organ.
_base_ = ['./_base_/medical_runtime.py']
data_root = 'data/Synapse/'
classes = ('background', 'aorta', 'gallbladder', 'kidney_left', 'kidney_right', 'liver', 'pancreas', 'spleen',
           'stomach')
model = dict(
    type='visionssm.MedSegModel',
    model=dict(name='vm_unet', num_classes=9, in_chans=3, depths=(2, 2, 2, 2), depths_decoder=(2, 2, 2, 1),
               drop_path_rate=0.3),
    loss=dict(type='ce_dice', num_classes=9, weights=(1.0, 1.0), include_background=True, dice_square=True),
    inference=dict(mode='slices', size=224),
    pretrained='pretrained/vmamba_small_e238_ema.pth',
)
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='visionssm.SynapseDataset', data_root=data_root, split='train', size=224))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='visionssm.SynapseDataset', data_root=data_root, split='test'))
test_dataloader = val_dataloader
# Organs missing from a case are NaN and left out of the means; absent='transunet' scores them as the TransUNet /
# VM-UNet evaluation does (spurious organ: Dice 1, missed organ: Dice 0, HD95 0), for comparing with their numbers.
val_evaluator = dict(type='visionssm.MedSegMetric', num_classes=9, class_names=classes)
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=100, eta_min=1e-5, by_epoch=True, begin=0, end=300)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
