_base_ = './_base_/upernet_vim_8xb2-60k_ade20k-512x512.py'
model = dict(backbone=dict(model_name='vim_small', drop_path_rate=0.1),
             decode_head=dict(in_channels=[384, 384, 384, 384]), auxiliary_head=dict(in_channels=384))
