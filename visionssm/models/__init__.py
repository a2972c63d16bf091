"""Backbone families, registered with timm on import (``import visionssm`` is enough)."""
import importlib
import sys
from typing import List

import timm

from visionssm.convert.common import allow_official_config_containers

from ._test_variants import is_test_variant

FAMILIES = ("vmamba", "vim", "efficient_vmamba", "msvmamba", "spatial_mamba", "vssd", "plainmamba", "efficientvim",
            "rsmamba")
_timm_before = set(timm.list_models())
allow_official_config_containers()  # official release files carry pickled configs; see convert/common.py

for _family in FAMILIES:
    try:
        importlib.import_module(f"{__name__}.{_family}")
    except ModuleNotFoundError as _e:  # family not written yet (during development)
        if _e.name != f"{__name__}.{_family}":
            raise


def registered_model_names(include_test: bool = False) -> List[str]:
    """timm names that visionssm registered (sorted); the tiny ``test_<family>`` variants only with ``include_test``."""
    names = set()
    for family in FAMILIES:
        names |= set(timm.list_models(module=family)) - _timm_owned_extras(family)
    return sorted(n for n in names if include_test or not is_test_variant(n))


def _timm_native(family: str) -> set:
    """timm's own models that a family covers (``TIMM_VARIANTS``: EfficientViM is timm's implementation)."""
    return set(getattr(sys.modules.get(f"{__name__}.{family}"), "TIMM_VARIANTS", ()))


def _timm_owned_extras(family: str) -> set:
    """timm models in the family's timm module that the family does not cover (EfficientViM's ``*_dist``)."""
    native = _timm_native(family)
    return {n for n in timm.list_models(module=family) if n in _timm_before and n not in native} if native else set()


_clashes = set(registered_model_names(include_test=True)) & _timm_before - set().union(*map(_timm_native, FAMILIES))
if _clashes:  # a timm release added a model with one of our names: ours would silently replace it
    raise ImportError(f"visionssm model names clash with timm's own models: {sorted(_clashes)}; rename ours.")
