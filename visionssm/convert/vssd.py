"""VSSD (YuHengsss/VSSD) official checkpoints and constructor kwargs → ``visionssm.models.vssd.VSSD``."""
import re
from typing import Any, Dict, Mapping

import torch

from .common import map_official_kwargs
from .registry import FamilyConverter, lazy, register_family

__all__ = ["convert_official", "is_official", "kwargs_from_official"]


def is_official(state_dict: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith(("layers.", "patch_embed.")) for k in state_dict)


def convert_official(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """YuHengsss/VSSD ``VMAMBA2`` keys → ours.

    ``patch_embed`` → ``stem``; ``layers.i.blocks`` → ``stages.i.blocks``; ``layers.i.downsample`` →
    ``stages.{i+1}.downsample``; ``attn.{in_proj,conv2d,dt_bias,A_log,D,norm,out_proj}`` →
    ``mixer.{in_proj,conv,...}``; ``attn.to_qkv``/``attn.to_out`` → ``mixer.attn.qkv``/``.proj``;
    ``head`` → ``head.fc``. The detection backbone's ``outnorm{i}`` keys are dropped (not part of the
    classifier). Unknown keys are passed through, so a strict load names them.
    """
    out: Dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if k.startswith("outnorm"):
            continue
        k2 = re.sub(r"^patch_embed\.", "stem.", k)
        k2 = re.sub(r"^layers\.(\d+)\.downsample\.", lambda m: f"stages.{int(m.group(1)) + 1}.downsample.", k2)
        k2 = re.sub(r"^layers\.(\d+)\.blocks\.", r"stages.\1.blocks.", k2)
        k2 = re.sub(r"\.attn\.", ".mixer.", k2)
        k2 = re.sub(r"\.mixer\.to_qkv\.", ".mixer.attn.qkv.", k2)
        k2 = re.sub(r"\.mixer\.to_out\.", ".mixer.attn.proj.", k2)
        k2 = re.sub(r"\.mixer\.conv2d\.", ".mixer.conv.", k2)
        k2 = re.sub(r"^head\.", "head.fc.", k2)
        out[k2] = v
    return out


_OFFICIAL_TO_OURS = {
    "in_chans": "in_chans", "num_classes": "num_classes", "embed_dim": "embed_dim", "depths": "depths",
    "num_heads": "num_heads", "mlp_ratio": "mlp_ratio", "drop_rate": "drop_rate", "drop_path_rate": "drop_path_rate",
    "ssd_expansion": "expand", "ssd_ngroups": "ngroups", "d_state": "d_state", "attn_types": "attn_types",
}
_OFFICIAL_REQUIRED = {"patch_size": 4, "simple_downsample": False, "simple_patch_embed": False,
                      "linear_attn_duality": True, "lepe": False, "bidirection": False, "qkv_bias": True}
_OFFICIAL_IGNORED = {"image_size", "img_size", "ssd_chunk_size", "use_checkpoint", "norm_layer", "ssd_expand"}


def kwargs_from_official(official: Mapping[str, Any]) -> Dict[str, Any]:
    """YuHengsss/VSSD ``VMAMBA2(**kwargs)`` → ``VSSD`` kwargs; settings of other architectures raise."""
    def positive_da(value: Any, kwargs: Dict[str, Any]) -> None:
        from visionssm.layers.ncssd import NCSSD_NAME, NonCausalSSD

        kwargs["scan"] = NCSSD_NAME if value else NonCausalSSD(positive_dA=False)

    return map_official_kwargs(official, "VSSD", _OFFICIAL_TO_OURS, _OFFICIAL_REQUIRED, _OFFICIAL_IGNORED,
                               {"ssd_positve_dA": positive_da})


def _build(official: Mapping[str, Any]):
    return lazy("visionssm.models.vssd", "VSSD")(**kwargs_from_official(official))


register_family(FamilyConverter(
    family="vssd", build=_build, convert=lazy("visionssm.models.vssd", "checkpoint_filter_fn"),
    guess_variant=lazy("visionssm.models.vssd", "guess_variant")))
