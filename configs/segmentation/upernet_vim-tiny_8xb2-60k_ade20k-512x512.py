_base_ = './_base_/upernet_vim_8xb2-60k_ade20k-512x512.py'
model = dict(backbone=dict(model_name='vim_tiny', drop_path_rate=0.1),
             decode_head=dict(in_channels=[192, 192, 192, 192]), auxiliary_head=dict(in_channels=192))
