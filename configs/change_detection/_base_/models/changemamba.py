# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba decoder shared by MambaBCD / MambaBDA / MambaSCD: VSS blocks with the "cross" scan
# (a leaf's `model = dict(scan='...')` tries any registered strategy). The encoder comes from changemamba_vmamba_*.py.
model = dict(
    type='visionssm.ChangeDetector',
    scan='cross',
    channels=128,
    drop_path=0.1,
    block_kwargs=dict(d_state=1, ssm_ratio=2.0, gate='none', conv_bias=False, mlp_ratio=4.0),
    init_cfg=dict(type='Pretrained'),
)
