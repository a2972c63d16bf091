# RSMamba-H on AID: configs/rsmamba/rsmamba_aid_h.py (the -b recipe, another arch).
_base_ = './rsmamba-b_1xb16-500e_aid-224.py'
model = dict(model_name='rsmamba_h')
