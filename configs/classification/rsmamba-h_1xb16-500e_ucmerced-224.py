# RSMamba-H on UC Merced Land Use: configs/rsmamba/rsmamba_uc_h.py (the -b recipe, another arch).
_base_ = './rsmamba-b_1xb16-500e_ucmerced-224.py'
model = dict(model_name='rsmamba_h')
