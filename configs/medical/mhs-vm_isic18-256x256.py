# MHS-VM on ISIC 2018 (PixDeep/MHS-VM configs/config_setting.py): VM-UNet recipe, 4 heads, gfu_t 0.5,
# drop_path 0.2, no ImageNet pretraining.
_base_ = ['./_base_/vm-unet_isic_300e.py']
data_root = 'data/isic2018/'
model = dict(model=dict(_delete_=True, name='mhs_vm_unet', num_classes=1, in_chans=3, heads=4, gfu_t=0.5,
                        depths=(2, 2, 2, 2), depths_decoder=(2, 2, 2, 1), drop_path_rate=0.2),
             pretrained=None)
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(val_interval=1)
