"""Backbone families, registered with timm on import (``import visionssm`` is enough)."""
import importlib

import timm

FAMILIES = ("vmamba", "vim", "efficient_vmamba", "msvmamba", "spatial_mamba", "vssd")
_timm_before = set(timm.list_models())

for _family in FAMILIES:
    try:
        importlib.import_module(f"{__name__}.{_family}")
    except ModuleNotFoundError as _e:  # family not written yet (during development)
        if _e.name != f"{__name__}.{_family}":
            raise

_ours = {n for n in timm.list_models() if n not in _timm_before}
