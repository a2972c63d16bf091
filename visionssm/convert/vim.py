"""Vim (hustvl/Vim) official checkpoints and constructor kwargs → ``visionssm.models.vim.VisionMamba``.

The released models are "bimamba v2": two parameter sets per layer (``conv1d``/``conv1d_b``, ``x_proj``/``x_proj_b``,
...), which become one stacked set with direction k = 0 forward, 1 backward. ``norm_f`` is our ``norm``.
"""
import re
from typing import Any, Dict, Mapping

import torch

from .common import map_official_kwargs
from .registry import FamilyConverter, lazy, register_family

__all__ = ["convert_official", "is_official", "kwargs_from_official"]

_DIRECTION_KEYS = {  # official forward / backward parameter → our stacked parameter, stacking dim
    "conv1d.weight": ("conv1d_b.weight", "conv1d.weight", "cat"),
    "conv1d.bias": ("conv1d_b.bias", "conv1d.bias", "cat"),
    "x_proj.weight": ("x_proj_b.weight", "ssm.x_proj_weight", "stack"),
    "dt_proj.weight": ("dt_proj_b.weight", "ssm.dt_projs_weight", "stack"),
    "dt_proj.bias": ("dt_proj_b.bias", "ssm.dt_projs_bias", "stack"),
    "A_log": ("A_b_log", "ssm.A_logs", "cat"),
    "D": ("D_b", "ssm.Ds", "cat"),
}


def is_official(state_dict: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith("layers.") for k in state_dict) or "norm_f.weight" in state_dict


def convert_official(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """hustvl/Vim key names (``layers.i.mixer.{conv1d,conv1d_b,x_proj,x_proj_b,...}``, ``norm_f``) → ours.

    The forward and backward parameter sets are stacked in direction order k = 0 (forward), 1 (backward).
    Keys we do not know are passed through, so a strict load names them.
    """
    out: Dict[str, torch.Tensor] = {}
    consumed = set()
    for k, v in state_dict.items():
        if k in consumed:
            continue
        m = re.match(r"layers\.(\d+)\.mixer\.(.+)$", k)
        if m and m.group(2) in _DIRECTION_KEYS:
            prefix = f"layers.{m.group(1)}.mixer."
            back_name, ours, how = _DIRECTION_KEYS[m.group(2)]
            back = state_dict.get(prefix + back_name)
            if back is None:
                raise KeyError(f"{k} has no backward twin {prefix + back_name}: only Vim's bimamba v2 "
                               f"(two parameter sets per layer) is supported")
            consumed.add(prefix + back_name)
            out[f"blocks.{m.group(1)}.mixer.{ours}"] = (torch.cat if how == "cat" else torch.stack)([v, back])
            continue
        k2 = re.sub(r"^layers\.(\d+)\.", r"blocks.\1.", k)
        k2 = re.sub(r"^norm_f\.", "norm.", k2)
        out[k2] = v
    return out


_OFFICIAL_TO_OURS = {
    "img_size": "img_size", "patch_size": "patch_size", "stride": "stride", "embed_dim": "embed_dim",
    "depth": "depth", "d_state": "d_state", "channels": "in_chans", "num_classes": "num_classes",
    "drop_rate": "drop_rate", "drop_path_rate": "drop_path_rate", "norm_epsilon": "norm_eps",
    "residual_in_fp32": "residual_in_fp32",
}
# official kwargs that must hold a given value (anything else is a different architecture)
_OFFICIAL_REQUIRED = {"if_abs_pos_embed": True, "if_rope": False, "if_rope_residual": False, "bimamba_type": "v2",
                      "if_bidirectional": False, "use_double_cls_token": False, "if_bimamba": False,
                      "init_layer_scale": None, "flip_img_sequences_ratio": -1.0}
_OFFICIAL_IGNORED = {"fused_add_norm", "final_pool_type", "device", "dtype", "pt_hw_seq_len", "ft_seq_len",
                     "initializer_cfg", "pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "drop_block_rate"}


def kwargs_from_official(official: Mapping[str, Any]) -> Dict[str, Any]:
    """hustvl/Vim ``VisionMamba(**kwargs)`` → ``VisionMamba`` kwargs here; unsupported settings raise."""
    official = dict(official)

    def norm_layer(value: Any, kwargs: Dict[str, Any]) -> None:
        kwargs["norm_layer"] = "rmsnorm" if value else "layernorm"

    def divide_out(value: Any, kwargs: Dict[str, Any]) -> None:
        if not value:
            raise NotImplementedError("if_divide_out=False (sum instead of mean of the two directions) is "
                                      "not supported; the released models divide by 2")

    def cls_token(value: Any, kwargs: Dict[str, Any]) -> None:
        kwargs["class_token"] = bool(value)

    def middle_cls_token(value: Any, kwargs: Dict[str, Any]) -> None:
        if not value and official.get("if_cls_token", True):
            raise NotImplementedError("only the middle class token (use_middle_cls_token=True) is supported")

    def ssm_cfg(value: Any, kwargs: Dict[str, Any]) -> None:
        for k2, v2 in (value or {}).items():
            if k2 not in ("d_conv", "expand", "dt_rank"):
                raise NotImplementedError(f"official Vim ssm_cfg[{k2!r}] is not supported")
            kwargs[k2] = v2

    kwargs = map_official_kwargs(official, "Vim", _OFFICIAL_TO_OURS, _OFFICIAL_REQUIRED, _OFFICIAL_IGNORED, {
        "rms_norm": norm_layer, "if_divide_out": divide_out, "if_devide_out": divide_out, "if_cls_token": cls_token,
        "use_middle_cls_token": middle_cls_token, "ssm_cfg": ssm_cfg})
    if not kwargs.get("class_token", True):
        kwargs["global_pool"] = "avg" if official.get("final_pool_type", "mean") == "mean" else ""
    return kwargs


def _build(official: Mapping[str, Any]):
    return lazy("visionssm.models.vim", "VisionMamba")(**kwargs_from_official(official))


register_family(FamilyConverter(
    family="vim", build=_build, convert=lazy("visionssm.models.vim", "checkpoint_filter_fn"),
    guess_variant=lazy("visionssm.models.vim", "guess_variant")))
