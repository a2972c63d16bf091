# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba BCD training: schedules/changemamba_bcd_*.py on cd_runtime.py, keeping the best checkpoint by Kappa.
_base_ = ['./schedules/changemamba_bcd_20k.py', './cd_runtime.py']
default_hooks = dict(checkpoint=dict(save_best='cd/kappa', rule='greater'))
