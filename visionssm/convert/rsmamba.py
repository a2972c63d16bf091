"""RSMamba (KyanChen/RSMamba) official checkpoints and mmpretrain configs → ``visionssm.models.rsmamba.RSMamba``.

Official checkpoints are mmengine files ``{'state_dict': {'backbone.*', 'head.fc.*'}}``; each layer is a
transformers ``MambaMixer`` (``layers.i.{in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj}``) whose SSM
parameters become our one-direction ``DirectionalSSM`` stack; ``gate_layers.i.0`` is the mixer's ``gate``,
``ln1``/``ln2`` are ``norm``/``fc_norm``.
"""
import math
import re
from typing import Any, Dict, Mapping

import torch

from .registry import FamilyConverter, lazy, register_family

__all__ = ["convert_official", "is_official", "kwargs_from_official"]

_ARCHS = {  # the official RSMamba.arch_zoo
    "s": (192, 16, 384), "small": (192, 16, 384), "b": (192, 24, 384), "base": (192, 24, 384),
    "l": (256, 36, 512), "large": (256, 36, 512), "h": (320, 48, 640), "huge": (320, 48, 640),
}
_MIXER_KEYS = {  # official MambaMixer parameter → ours, and how the tensor changes
    "in_proj.weight": ("in_proj.weight", None), "conv1d.weight": ("conv1d.weight", None),
    "conv1d.bias": ("conv1d.bias", None), "out_proj.weight": ("out_proj.weight", None),
    "in_proj.bias": ("in_proj.bias", None), "out_proj.bias": ("out_proj.bias", None),
    "x_proj.weight": ("ssm.x_proj_weight", "stack"), "dt_proj.weight": ("ssm.dt_projs_weight", "stack"),
    "dt_proj.bias": ("ssm.dt_projs_bias", "stack"), "A_log": ("ssm.A_logs", None), "D": ("ssm.Ds", None),
}
_RENAMES = {"patch_embed.projection.": "patch_embed.proj.", "pre_norm.": "pre_norm.", "ln1.": "norm.",
            "ln2.": "fc_norm.", "pos_embed": "pos_embed"}
_PATHS = {"forward_reverse_shuffle_gate": "shuffle", "forward_reverse_gate": "bidirectional"}


def is_official(state_dict: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith(("backbone.", "gate_layers.", "layers.")) for k in state_dict)


def convert_official(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official keys (with or without the classifier's ``backbone.``/``head.fc.`` prefixes) → ours; unknown keys
    pass through so that a strict load names them."""
    out: Dict[str, torch.Tensor] = {}
    for key, v in state_dict.items():
        k = key[len("backbone."):] if key.startswith("backbone.") else key
        if k.startswith("head.fc."):
            out["head." + k[len("head.fc."):]] = v
            continue
        m = re.match(r"layers\.(\d+)\.(.+)$", k)
        if m and m.group(2) in _MIXER_KEYS:
            ours, how = _MIXER_KEYS[m.group(2)]
            out[f"blocks.{m.group(1)}.mixer.{ours}"] = v.unsqueeze(0) if how == "stack" else v
            continue
        m = re.match(r"gate_layers\.(\d+)\.0\.weight$", k)
        if m:
            out[f"blocks.{m.group(1)}.mixer.gate.weight"] = v
            continue
        for old, new in _RENAMES.items():
            if k.startswith(old):
                k = new + k[len(old):]
                break
        out[k] = v
    return out


def _require(cfg: Mapping[str, Any], key: str, allowed, default) -> Any:
    value = cfg.get(key, default)
    if value not in allowed:
        raise NotImplementedError(f"official RSMamba {key}={value!r} is not supported (supported: {list(allowed)}, "
                                  "as in the released configs)")
    return value


def kwargs_from_official(official: Mapping[str, Any]) -> Dict[str, Any]:
    """The official mmpretrain model config (``ImageClassifier`` dict, or just its ``backbone`` dict) → our kwargs."""
    official = dict(official)
    head = official.get("head") or {}
    bb = dict(official.get("backbone", official))
    known = {"type", "arch", "pe_type", "path_type", "cls_position", "img_size", "patch_size", "in_channels",
             "out_indices", "drop_rate", "norm_cfg", "final_norm", "out_type", "frozen_stages", "interpolate_mode",
             "patch_cfg", "layer_cfgs", "init_cfg"}
    unknown = sorted(set(bb) - known)
    if unknown:
        raise TypeError(f"unknown official RSMamba backbone kwargs {unknown}")
    arch = bb.get("arch", "base")
    if isinstance(arch, str):
        if arch.lower() not in _ARCHS:
            raise NotImplementedError(f"official RSMamba arch {arch!r} is unknown; known: {sorted(_ARCHS)}")
        dim, depth, d_inner = _ARCHS[arch.lower()]
    else:
        dim, depth = arch["embed_dims"], arch["num_layers"]
        d_inner = arch.get("feedforward_channels", 2 * dim)
    _require(bb, "pe_type", ("learnable",), "learnable")
    _require(bb, "cls_position", ("none",), "none")
    _require(bb, "out_type", ("avg_featmap",), "avg_featmap")
    _require(bb, "final_norm", (True,), True)
    path = _require(bb, "path_type", tuple(_PATHS), "forward_reverse_shuffle_gate")
    if bb.get("layer_cfgs"):
        raise NotImplementedError("official RSMamba layer_cfgs (per-layer MambaMixer overrides) are not supported")
    norm_cfg = bb.get("norm_cfg") or {"type": "LN", "eps": 1e-6}
    if norm_cfg.get("type") != "LN":
        raise NotImplementedError(f"official RSMamba norm_cfg {norm_cfg} is not supported (only LN)")
    patch_cfg = dict(bb.get("patch_cfg") or {})
    patch_size = bb.get("patch_size", 16)
    stride = patch_cfg.pop("stride", patch_size)
    if patch_cfg:
        raise NotImplementedError(f"official RSMamba patch_cfg keys {sorted(patch_cfg)} are not supported (only stride)")
    if head and head.get("type", "LinearClsHead") != "LinearClsHead":
        raise NotImplementedError(f"official RSMamba head {head.get('type')!r} is not supported (LinearClsHead)")
    return {"img_size": bb.get("img_size", 224), "patch_size": patch_size, "stride": stride,
            "in_chans": bb.get("in_channels", 3), "embed_dim": dim, "depth": depth, "d_inner": d_inner,
            "dt_rank": math.ceil(dim / 16), "scan": _PATHS[path], "pos_drop_rate": bb.get("drop_rate", 0.0),
            "norm_eps": norm_cfg.get("eps", 1e-5), "num_classes": head.get("num_classes", 0) if head else 0}


def _build(official: Mapping[str, Any]):
    return lazy("visionssm.models.rsmamba", "RSMamba")(**kwargs_from_official(official))


register_family(FamilyConverter(
    family="rsmamba", build=_build, convert=lazy("visionssm.models.rsmamba", "checkpoint_filter_fn"),
    guess_variant=lazy("visionssm.models.rsmamba", "guess_variant")))
