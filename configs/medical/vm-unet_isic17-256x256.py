# VM-UNet on ISIC 2017 (authors' 7:3 split in data/isic2017/{train,val}/{images,masks}).
_base_ = ['./_base_/vm-unet_isic_300e.py']
data_root = 'data/isic2017/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
