# LightM-UNet 3D on LiTS in nnU-Net v2 raw layout (MrBlankness/LightM-UNet nnUNetTrainerLightMUNet):
# init_filters 32, blocks (1,2,2,4)/(1,1,1), no deep supervision, Adam lr 1e-4 wd 1e-5 eps 1e-5, PolyLR 0.9,
# grad-norm clip 12, Dice + CE (nnU-Net: soft batch Dice without background), 1000 epochs x 250 iterations.
# The patch size comes from nnU-Net's plans for your data (3d_fullres); 128^3 is a common LiTS value.
_base_ = ['./_base_/medical_runtime.py']
data_root = 'data/nnUNet_raw/Dataset801_LiverCT/'
patch = (128, 128, 128)
# Train on fold 0 of nnU-Net's 5-fold split of imagesTr and validate (pick the best checkpoint) on its held-out
# cases; nnU-Net's own splits_final.json can be given with splits_file=... in both datasets.
fold = 0
model = dict(
    type='visionssm.MedSegModel',
    model=dict(name='lightm_unet_3d', in_chans=1, num_classes=3, init_filters=32, blocks_down=(1, 2, 2, 4),
               blocks_up=(1, 1, 1), scan='raster'),
    loss=dict(type='ce_dice', num_classes=3, weights=(1.0, 1.0), include_background=False, dice_square=False),
    inference=dict(mode='slide', roi_size=patch, overlap=0.5),
)
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='visionssm.NnUNetRawDataset', data_root=data_root, split='train', fold=fold,
                 patch_size=patch))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='visionssm.NnUNetRawDataset', data_root=data_root, split='val', fold=fold))
test_dataloader = val_dataloader
val_evaluator = dict(type='visionssm.MedSegMetric', num_classes=3, class_names=('background', 'liver', 'tumor'))
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-5, eps=1e-5),
                     clip_grad=dict(max_norm=12))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=250000)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=250000, val_interval=25000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=25000))
log_processor = dict(by_epoch=False)
