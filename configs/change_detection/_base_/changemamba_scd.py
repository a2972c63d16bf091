# ruff: noqa: C408  (OpenMMLab configs are written with dict())
# ChangeMamba SCD training: schedules/changemamba_scd_*.py on cd_runtime.py, keeping the best checkpoint by SeK.
_base_ = ['./schedules/changemamba_scd_50k.py', './cd_runtime.py']
default_hooks = dict(checkpoint=dict(save_best='cd/sek', rule='greater'))
