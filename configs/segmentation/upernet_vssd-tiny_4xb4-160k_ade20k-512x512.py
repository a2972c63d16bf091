_base_ = './_base_/upernet_visionssm_4xb4-160k_ade20k-512x512.py'
model = dict(backbone=dict(model_name='vssd_tiny', drop_path_rate=0.2),
             decode_head=dict(in_channels=[64, 128, 256, 512]), auxiliary_head=dict(in_channels=256))
