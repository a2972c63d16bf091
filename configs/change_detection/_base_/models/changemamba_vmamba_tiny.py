# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba encoder vmamba_tiny_s2l5 (ImageNet vssm_tiny_0230_ckpt_epoch_262.pth).
_base_ = './changemamba.py'
model = dict(
    backbone='vmamba_tiny_s2l5',
    backbone_kwargs=dict(drop_path_rate=0.2),
    init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_tiny_0230_ckpt_epoch_262.pth'),
)
