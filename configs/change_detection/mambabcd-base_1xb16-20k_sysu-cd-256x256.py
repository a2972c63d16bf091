# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba MambaBCD-B on sysu-cd: vmamba_base_s2l15 encoder (ImageNet vssm_base_0229_ckpt_epoch_237.pth),
# decoder VSS blocks with the "cross" scan: add scan='...' to `model` to try any registered strategy, or swap
# the models/ line for another encoder.
_base_ = [
    './_base_/models/changemamba_vmamba_base.py',
    './_base_/datasets/sysu_cd.py',
    './_base_/changemamba_bcd.py',
]
model = dict(arch='mamba_bcd')
