"""EfficientViM (mlvlab/EfficientViM) official checkpoints and constructor kwargs → timm's ``EfficientViM``.

The model itself is timm's (``timm.models.efficientvim``, timm >= 1.0.30), not a copy: its module names are the
official ones, so conversion only unwraps the training envelope (``from_official`` reads ``'model'``, as the official
loader does; timm's ``pretrained=True`` route prefers ``'model_ema'``, the weights behind the paper's numbers), reshapes the official ``(1, C, 1)`` / ``(1, C, 1, 1)`` LayerNorm affine tensors to ``(C,)`` and
drops the distillation head for non-distilled models. ``mixer.A`` is kept although it cannot change any output
(it is added to ``dt`` before a softmax over tokens, which is shift invariant).
"""
import importlib
from typing import Any, Dict, Mapping

import torch

from .common import checked_weights, map_official_kwargs
from .registry import FamilyConverter, register_family

__all__ = ["MIN_TIMM", "convert_official", "kwargs_from_official", "require_timm_efficientvim"]

MIN_TIMM = "1.0.30"  # the first timm release with timm/models/efficientvim.py


def require_timm_efficientvim():
    """``timm.models.efficientvim``, or an ImportError naming the timm version EfficientViM needs."""
    try:
        return importlib.import_module("timm.models.efficientvim")
    except ImportError as e:
        import timm
        raise ImportError(f"EfficientViM is timm's implementation (timm.models.efficientvim), which needs "
                          f"timm>={MIN_TIMM}; installed timm {timm.__version__}: pip install -U 'timm>={MIN_TIMM}'"
                          ) from e


def convert_official(state_dict: Mapping[str, torch.Tensor], model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """Official EfficientViM state dict (unwrapped or in its ``{'model'|'model_ema'}`` envelope) → timm's keys."""
    timm_evm = require_timm_efficientvim()
    return checked_weights(dict(timm_evm.checkpoint_filter_fn(dict(state_dict), model)), model)


_OFFICIAL_TO_OURS = {"in_dim": "in_chans", "num_classes": "num_classes", "embed_dim": "embed_dim", "depths": "depths",
                     "mlp_ratio": "mlp_ratio", "ssd_expand": "ssd_expand", "state_dim": "state_dim"}


def kwargs_from_official(official: Mapping[str, Any]) -> Dict[str, Any]:
    """Official ``EfficientViM(**kwargs)`` → timm ``EfficientViM`` kwargs (``distilled`` picks the class)."""
    def distillation(value: Any, kwargs: Dict[str, Any]) -> None:
        kwargs["distilled"] = bool(value)

    kwargs = map_official_kwargs(official, "EfficientViM", _OFFICIAL_TO_OURS, ignored={"pretrained", "init_cfg"},
                                 special={"distillation": distillation})
    for key in ("embed_dim", "depths", "state_dim"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return kwargs


def build_from_official(official: Mapping[str, Any]) -> torch.nn.Module:
    """timm's EfficientViM (or EfficientViMDistilled) built from the official constructor kwargs."""
    timm_evm = require_timm_efficientvim()
    kwargs = kwargs_from_official(official)
    cls = timm_evm.EfficientViMDistilled if kwargs.pop("distilled", False) else timm_evm.EfficientViM
    return cls(**kwargs)


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> str:
    dims = tuple(int(state_dict[f"stages.{i}.blocks.0.alpha"].shape[1]) for i in range(3)
                 if f"stages.{i}.blocks.0.alpha" in state_dict)
    depths = tuple(len({k.split(".")[3] for k in state_dict if k.startswith(f"stages.{i}.blocks.")}) for i in range(3))
    known = {((128, 192, 320), (2, 2, 2)): "efficientvim_m1", ((128, 256, 512), (2, 2, 2)): "efficientvim_m2",
             ((224, 320, 512), (2, 2, 2)): "efficientvim_m3", ((224, 320, 512), (3, 4, 2)): "efficientvim_m4"}
    dist = " with the distillation head (the *_dist models)" if "weights_dist" in state_dict else ""
    return f"{known.get((dims, depths), 'an unreleased EfficientViM')}{dist} (embed_dim {list(dims)}, depths {list(depths)})"


register_family(FamilyConverter(family="efficientvim", build=build_from_official, convert=convert_official,
                                guess_variant=guess_variant))
