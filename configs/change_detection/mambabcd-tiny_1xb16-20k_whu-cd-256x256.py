# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba MambaBCD-T on whu-cd: vmamba_tiny_s2l5 encoder (ImageNet vssm_tiny_0230_ckpt_epoch_262.pth),
# decoder VSS blocks with the "cross" scan: add scan='...' to `model` to try any registered strategy, or swap
# the models/ line for another encoder.
_base_ = [
    './_base_/models/changemamba_vmamba_tiny.py',
    './_base_/datasets/whu_cd.py',
    './_base_/changemamba_bcd.py',
]
model = dict(arch='mamba_bcd')
