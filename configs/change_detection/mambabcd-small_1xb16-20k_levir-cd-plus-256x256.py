# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba MambaBCD-S on levir-cd-plus: vmamba_small_s2l15 encoder (ImageNet vssm_small_0229_ckpt_epoch_222.pth),
# decoder VSS blocks with the "cross" scan (change `scan` to try any registered strategy).
_base_ = [
    './_base_/datasets/levir_cd_plus.py',
    './_base_/schedules/changemamba_bcd_20k.py',
    './_base_/cd_runtime.py',
]
model = dict(
    type='visionssm.ChangeDetector',
    arch='mamba_bcd',
    backbone='vmamba_small_s2l15',
    backbone_kwargs=dict(drop_path_rate=0.3),
    scan='cross',
    channels=128,
    drop_path=0.1,
    block_kwargs=dict(d_state=1, ssm_ratio=2.0, gate='none', conv_bias=False, mlp_ratio=4.0),
    init_cfg=dict(type='Pretrained',
                  checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_small_0229_ckpt_epoch_222.pth'),
)
default_hooks = dict(checkpoint=dict(save_best='cd/kappa', rule='greater'))
