# RSMamba-H on NWPU-RESISC45: configs/rsmamba/rsmamba_nwpu_h.py (the -b recipe, another arch).
_base_ = './rsmamba-b_1xb16-500e_nwpu-224.py'
model = dict(model_name='rsmamba_h')
