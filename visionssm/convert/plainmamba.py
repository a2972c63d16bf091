"""PlainMamba (ChenhongyiYang/PlainMamba) official checkpoints and mmcls configs → ``visionssm.models.plainmamba``.

The official checkpoints are mmcls ``ImageClassifier`` state dicts (``{'state_dict': ...}``): ``backbone.*``
(``patch_embed.projection``, ``layers.i.mamba``, ``ln1``) and ``head.fc``. Constructor kwargs are the mmcls model
config dict (``type='ImageClassifier'``, ``backbone=dict(type='PlainMamba', ...)``, neck, head) or the backbone
dict alone; ``arch='L1'|'L2'|'L3'`` selects the official presets.
"""
import copy
import re
from typing import Any, Dict, Mapping

import torch

from .registry import FamilyConverter, lazy, register_family

__all__ = ["ARCHS", "convert_official", "is_official", "kwargs_from_official"]

# the official arch_zoo, in the official names
ARCHS: Dict[str, Dict[str, Any]] = {
    "L1": {"patch_size": 16, "embed_dims": 192, "num_layers": 24, "num_convs_patch_embed": 1,
           "layers_with_dwconv": [0]},
    "L2": {"patch_size": 16, "embed_dims": 384, "num_layers": 24, "num_convs_patch_embed": 2,
           "layers_with_dwconv": []},
    "L3": {"patch_size": 16, "embed_dims": 448, "num_layers": 36, "num_convs_patch_embed": 2,
           "layers_with_dwconv": []},
}
_ARCH_LAYER_CFG = {"use_rms_norm": False, "mamba_cfg": {"d_state": 16, "expand": 2, "conv_size": 7, "dt_init": "random",
                                                       "conv_bias": True, "bias": True}}

_RENAMES = [
    (r"^backbone\.", ""),
    (r"^patch_embed\.projection\.", "patch_embed.proj."),
    (r"^layers\.(\d+)\.mamba\.", r"blocks.\1.mixer."),
    (r"^layers\.(\d+)\.", r"blocks.\1."),
    (r"^ln1\.", "norm."),
    (r"^head\.fc\.", "head."),
]


def is_official(state_dict: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith(("backbone.", "head.fc.", "ln1.")) or ".mamba." in k for k in state_dict)


def convert_official(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official key names → ours. Unknown keys (the downstream ``norm_layer{i}``) pass through so a strict load
    names them."""
    out = {}
    for k, v in state_dict.items():
        for pattern, repl in _RENAMES:
            k = re.sub(pattern, repl, k)
        out[k] = v
    return out


_BACKBONE_IGNORED = {"type", "out_indices", "init_cfg", "test_cfg", "convert_syncbn", "freeze_patch_embed"}
_MAMBA_KEYS = {"d_state": "d_state", "expand": "expand", "conv_size": "conv_size", "conv_bias": "conv_bias",
               "bias": "bias", "dt_rank": "dt_rank", "dt_min": "dt_min", "dt_max": "dt_max",
               "dt_init_floor": "dt_init_floor"}
_MAMBA_IGNORED = {"dt_init", "default_hw_shape", "dt_scale"}


def _backbone_kwargs(bb: Mapping[str, Any]) -> Dict[str, Any]:
    bb = copy.deepcopy(dict(bb))
    if bb.get("type", "PlainMamba") != "PlainMamba":
        raise NotImplementedError(f"backbone type {bb['type']!r} is not PlainMamba")
    arch = bb.pop("arch", None)
    if arch is not None:
        if arch not in ARCHS:
            raise NotImplementedError(f"official PlainMamba arch {arch!r} unknown; known: {sorted(ARCHS)}")
        bb.update(copy.deepcopy(ARCHS[arch]))
        bb["layer_cfgs"] = copy.deepcopy(_ARCH_LAYER_CFG)
    kw: Dict[str, Any] = {}
    renames = {"img_size": "img_size", "in_channels": "in_chans", "patch_size": "patch_size",
               "embed_dims": "embed_dim", "num_layers": "depth", "num_convs_patch_embed": "num_convs_patch_embed",
               "layers_with_dwconv": "layers_with_dwconv", "drop_rate": "drop_rate",
               "drop_path_rate": "drop_path_rate"}
    for key, value in bb.items():
        if key in renames:
            kw[renames[key]] = value
        elif key in _BACKBONE_IGNORED:
            continue
        elif key == "with_pos_embed":
            if not value:
                raise NotImplementedError("with_pos_embed=False is not supported (every released model has one)")
        elif key == "final_norm":
            if not value:
                raise NotImplementedError("final_norm=False is not supported (every released model has one)")
        elif key == "interpolate_mode":
            if value != "bicubic":
                raise NotImplementedError(f"interpolate_mode={value!r} is not supported (only 'bicubic')")
        elif key == "norm_cfg":
            if value.get("type") != "LN":
                raise NotImplementedError(f"norm_cfg type {value.get('type')!r} is not supported (only 'LN')")
            kw["final_norm_eps"] = value.get("eps", 1e-5)
        elif key == "layer_cfgs":
            if not isinstance(value, Mapping):
                raise NotImplementedError("per-layer layer_cfgs lists are not supported (one dict for all layers)")
            for k2, v2 in value.items():
                if k2 == "use_rms_norm":
                    if v2:
                        raise NotImplementedError("use_rms_norm=True is not supported (the released models use "
                                                  "LayerNorm)")
                elif k2 == "mamba_cfg":
                    for k3, v3 in v2.items():
                        if k3 in _MAMBA_KEYS:
                            kw[_MAMBA_KEYS[k3]] = v3
                        elif k3 == "init_layer_scale" and v3 is not None:
                            raise NotImplementedError("mamba_cfg.init_layer_scale is not supported")
                        elif k3 not in _MAMBA_IGNORED and k3 != "init_layer_scale":
                            raise TypeError(f"unknown official PlainMamba mamba_cfg key {k3!r}")
                else:
                    raise TypeError(f"unknown official PlainMamba layer_cfgs key {k2!r}")
        else:
            raise TypeError(f"unknown official PlainMamba kwarg {key!r}")
    kw.setdefault("final_norm_eps", 1e-6)
    return kw


def kwargs_from_official(official: Mapping[str, Any]) -> Dict[str, Any]:
    """mmcls ``ImageClassifier`` config (or the ``PlainMamba`` backbone dict) → ``PlainMamba`` kwargs here."""
    official = dict(official)
    if "backbone" not in official:
        kw = _backbone_kwargs(official)
        kw["num_classes"] = 0
        return kw
    kw = _backbone_kwargs(official["backbone"])
    neck = official.get("neck") or {}
    if neck and neck.get("type") not in ("CustomAveragePooling", "GlobalAveragePooling"):
        raise NotImplementedError(f"neck {neck.get('type')!r} is not supported (mean pooling only)")
    head = official.get("head") or {}
    if head:
        if head.get("type") != "LinearClsHead":
            raise NotImplementedError(f"head {head.get('type')!r} is not supported (LinearClsHead only)")
        kw["num_classes"] = head["num_classes"]
    else:
        kw["num_classes"] = 0
    return kw


def _build(official: Mapping[str, Any]):
    return lazy("visionssm.models.plainmamba", "PlainMamba")(**kwargs_from_official(official))


register_family(FamilyConverter(
    family="plainmamba", build=_build, convert=lazy("visionssm.models.plainmamba", "checkpoint_filter_fn"),
    guess_variant=lazy("visionssm.models.plainmamba", "guess_variant")))
