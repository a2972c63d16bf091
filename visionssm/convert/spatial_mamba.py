"""Spatial-Mamba (EdwardChasel/Spatial-Mamba) official checkpoints and constructor kwargs →
``visionssm.models.spatial_mamba.SpatialMamba``."""
import re
from typing import Any, Dict, Mapping

import torch
from torch import nn

from .registry import FamilyConverter, lazy, register_family

__all__ = ["build_from_official", "convert_official", "legacy_key"]

_FUSION_KERNELS = ("kernel_3", "kernel_3_1", "kernel_3_2")  # dilations 1, 3, 5


def convert_official(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official ``SpatialMamba`` keys → ours (stage-leading downsample, stacked fusion kernels, K = 1 axes)."""
    out: Dict[str, torch.Tensor] = {}
    fusion: Dict[str, Dict[str, torch.Tensor]] = {}
    for k, v in state_dict.items():
        k = re.sub(r"^patch_embed\.", "stem.", k)  # MLLA stem / downsample: same child names as ours
        k = re.sub(r"^layers\.(\d+)\.downsample\.", lambda m: f"stages.{int(m.group(1)) + 1}.downsample.", k)
        k = re.sub(r"^layers\.(\d+)\.blocks\.", r"stages.\1.blocks.", k)
        k = k.replace(".ln_1.", ".norm1.").replace(".ln_2.", ".norm2.")
        if ".self_attention." in k:
            prefix, name = k.split(".self_attention.")
            mixer = f"{prefix}.mixer"
            if name.startswith("state_fusion."):
                fusion.setdefault(mixer, {})[name[len("state_fusion."):]] = v
                continue
            if name in ("x_proj_weight", "dt_projs_weight", "dt_projs_bias"):
                k, v = f"{mixer}.ssm.{name}", v.unsqueeze(0)
            elif name in ("A_logs", "Ds"):
                k = f"{mixer}.ssm.{name}"
            else:
                k = f"{mixer}.{name.replace('conv2d.', 'conv.')}"
        elif k.startswith("head."):
            k = "head.fc." + k[len("head."):]
        out[k] = v
    for mixer, parts in fusion.items():
        missing = [n for n in (*_FUSION_KERNELS, "alpha") if n not in parts]
        if missing:
            raise KeyError(f"official checkpoint: {mixer} state_fusion lacks {missing}")
        out[f"{mixer}.scan.kernels"] = torch.stack([parts[n] for n in _FUSION_KERNELS])
        out[f"{mixer}.scan.alpha"] = parts["alpha"]
    return out


_LEGACY_DOWNSAMPLE = {"expand.": "conv.0.conv.", "dw.": "conv.1.conv.", "proj.conv.": "conv.2.conv.",
                      "proj.bn.": "conv.2.norm."}


def legacy_key(k: str) -> str:
    """visionssm's older stem / downsample key names (``.bn.``, ``expand``/``dw``/``proj``) → the current ones, so
    files converted with them still load."""
    if k.startswith("stem.") and ".bn." in k:
        return k.replace(".bn.", ".norm.")
    m = re.match(r"^(stages\.\d+\.downsample\.)(expand\.|dw\.|proj\.conv\.|proj\.bn\.)(.+)$", k)
    return m.group(1) + _LEGACY_DOWNSAMPLE[m.group(2)] + m.group(3) if m else k


_OFFICIAL_KWARGS = {"in_chans", "num_classes", "depths", "dims", "d_state", "mlp_ratio", "drop_rate",
                    "drop_path_rate", "patch_size", "img_size", "dt_init", "attn_drop_rate", "norm_layer",
                    "patch_norm", "use_checkpoint"}


def build_from_official(kwargs: Mapping[str, Any]) -> nn.Module:
    """Our model from the official ``SpatialMamba(**kwargs)`` constructor arguments."""
    unknown = set(kwargs) - _OFFICIAL_KWARGS
    if unknown:
        raise ValueError(f"spatial_mamba: unsupported official kwargs {sorted(unknown)}; known: {sorted(_OFFICIAL_KWARGS)}")
    if kwargs.get("patch_size", 4) != 4:
        raise ValueError("spatial_mamba: the official Stem always downsamples by 4; patch_size must be 4")
    if kwargs.get("attn_drop_rate", 0.0):
        raise ValueError("spatial_mamba: attn_drop_rate (dropout after the SSM) is not supported; use 0")
    if kwargs.get("d_state", 1) is None:
        raise ValueError("spatial_mamba: d_state=None (ceil(dims[0] / 6)) is not supported; pass an int")
    # img_size only sizes unused attributes; dt_init only changes the initialisation the checkpoint replaces.
    return lazy("visionssm.models.spatial_mamba", "SpatialMamba")(
        in_chans=kwargs.get("in_chans", 3), num_classes=kwargs.get("num_classes", 1000),
        depths=tuple(kwargs.get("depths", (2, 2, 9, 2))), dims=kwargs.get("dims", (96, 192, 384, 768)),
        d_state=kwargs.get("d_state", 1), mlp_ratio=kwargs.get("mlp_ratio", 4.0),
        drop_rate=kwargs.get("drop_rate", 0.0), drop_path_rate=kwargs.get("drop_path_rate", 0.1))


register_family(FamilyConverter(
    family="spatial_mamba", build=build_from_official,
    convert=lazy("visionssm.models.spatial_mamba", "checkpoint_filter_fn"),
    guess_variant=lazy("visionssm.models.spatial_mamba", "guess_variant")))
