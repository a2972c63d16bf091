# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba MambaBCD-S on levir-cd: vmamba_small_s2l15 encoder (ImageNet vssm_small_0229_ckpt_epoch_222.pth),
# decoder VSS blocks with the "cross" scan: add scan='...' to `model` to try any registered strategy, or swap
# the models/ line for another encoder.
_base_ = [
    './_base_/models/changemamba_vmamba_small.py',
    './_base_/datasets/levir_cd.py',
    './_base_/changemamba_bcd.py',
]
model = dict(arch='mamba_bcd')
