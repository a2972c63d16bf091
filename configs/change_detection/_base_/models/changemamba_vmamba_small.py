# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba encoder vmamba_small_s2l15 (ImageNet vssm_small_0229_ckpt_epoch_222.pth).
_base_ = './changemamba.py'
model = dict(
    backbone='vmamba_small_s2l15',
    backbone_kwargs=dict(drop_path_rate=0.3),
    init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_small_0229_ckpt_epoch_222.pth'),
)
