_base_ = './_base_/upernet_visionssm_4xb4-160k_ade20k-512x512.py'
model = dict(backbone=dict(model_name='vmamba_small_s2l15', drop_path_rate=0.3),
             decode_head=dict(in_channels=[96, 192, 384, 768]), auxiliary_head=dict(in_channels=384))
