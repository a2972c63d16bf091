# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba BDA training: schedules/changemamba_bda_*.py on cd_runtime.py, keeping the best checkpoint by F1_oa.
_base_ = ['./schedules/changemamba_bda_50k.py', './cd_runtime.py']
default_hooks = dict(checkpoint=dict(save_best='cd/f1_oa', rule='greater'))
