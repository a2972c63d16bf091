# LightM-UNet 2D on Montgomery & Shenzhen chest X-ray in nnU-Net v2 raw layout (PNG, RGB channels, lung vs bg):
# the 3D recipe with spatial_dims 2; patch size from nnU-Net's 2d plans (512x512 is typical for these images).
_base_ = ['./lightm-unet-3d_lits.py']
data_root = 'data/nnUNet_raw/Dataset802_ChestXray/'
patch = (512, 512)
model = dict(
    model=dict(_delete_=True, name='lightm_unet_2d', in_chans=3, num_classes=2, init_filters=32,
               blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1), scan='raster'),
    loss=dict(num_classes=2),
    inference=dict(mode='slide', roi_size=patch, overlap=0.5),
)
train_dataloader = dict(batch_size=12, dataset=dict(data_root=data_root, patch_size=patch))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(num_classes=2, class_names=('background', 'lung'))
test_evaluator = val_evaluator
