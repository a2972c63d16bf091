# MHS-VM on ISIC 2017: as ISIC 2018 with gfu_t 0.0 (the released setting).
_base_ = ['./mhs-vm_isic18-256x256.py']
data_root = 'data/isic2017/'
model = dict(model=dict(gfu_t=0.0))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
