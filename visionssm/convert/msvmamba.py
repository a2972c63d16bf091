"""MSVMamba (YuHengsss/MSVMamba, master branch) official checkpoints and constructor kwargs →
``visionssm.models.msvmamba.MSVMamba``. Accepts ``{'model'}``, ``module.`` prefixes and plain state dicts; our own
state dicts pass through unchanged."""
from typing import Dict, Mapping

import torch
from torch import nn

from ._vssm_v1 import convert_v1_checkpoint
from .registry import FamilyConverter, lazy, register_family

__all__ = ["build_from_official", "convert_checkpoint"]

_MSV_BLOCK_RENAMES = (
    (".op.conv2d_b1.", ".mixer.scan.conv."),
    (".op.conv2d.", ".mixer.conv."),
    (".op.se.fc.0.", ".mixer.se.reduce."),
    (".op.se.fc.2.", ".mixer.se.expand."),
    (".op.", ".mixer."),
    (".convFFN.linear1.", ".ffn.fc1."),
    (".convFFN.linear2.", ".ffn.fc2."),
    (".convFFN.dwc.", ".ffn.dwconv."),
)


def _msv_block_key(k: str) -> str:
    for a, b in _MSV_BLOCK_RENAMES:  # the first matching rename only (".op." would also match the others)
        if a in k:
            return k.replace(a, b, 1)
    return k


def convert_checkpoint(state_dict: Mapping) -> Dict[str, torch.Tensor]:
    """Official MSVMamba state dict (any container) → our keys."""
    return convert_v1_checkpoint(state_dict, _msv_block_key)


# official kwarg → the only value the released models use (anything else is a different architecture)
_REQUIRED_OFFICIAL = {
    "forward_type": "v2", "downsample_version": "v1", "patchembed_version": "v1", "norm_layer": "ln",
    "ssm_act_layer": "silu", "mlp_act_layer": "gelu", "mlp_ratio": 0.0, "ssm_simple_init": False, "recurrent": False,
    "inter_block_ssm": False, "continous_patch": False, "adaptive_merge": False, "add_conv": True, "b1_seq": False,
    "ms_fusion": None, "lpu": False, "sep_norm": False, "ms_split": [1, 3],
}
_OFFICIAL_DEFAULTS = {"downsample_version": "v2", "mlp_ratio": 4.0}  # VSSM's own defaults where they differ
# dropout-only (0 in eval) or without effect on the released path (the forward always interpolates bilinearly)
_IGNORED_OFFICIAL = ("use_checkpoint", "ssm_drop_rate", "mlp_drop_rate", "grid_size", "multiscale_ratio",
                     "multiscale_ksize", "b1_ratio", "ssm_rank_ratio", "up_sample")


def build_from_official(kwargs: Mapping) -> nn.Module:
    """Official master-branch ``VSSM(**kwargs)`` → our model with the same architecture (weights random)."""
    kw = dict(kwargs)
    for name, value in _REQUIRED_OFFICIAL.items():
        if name in kw or name in _OFFICIAL_DEFAULTS:
            got = kw.pop(name, _OFFICIAL_DEFAULTS.get(name))
            got = list(got) if isinstance(got, tuple) else got
            if (got.lower() if isinstance(got, str) else got) != value:
                raise NotImplementedError(f"MSVMamba: official {name}={got!r} is not supported; the released "
                                          f"models use {name}={value!r}")
    ratio = kw.get("ssm_ratio", 2.0)
    if kw.get("ssm_rank_ratio", ratio) < ratio:
        raise NotImplementedError("MSVMamba: low-rank SS2D (ssm_rank_ratio < ssm_ratio) is not supported")
    for name in _IGNORED_OFFICIAL:
        kw.pop(name, None)
    depths = tuple(kw.pop("depths", (2, 2, 9, 2)))
    sscore = kw.pop("sscore_type", "None")
    if sscore not in ("multiscale_4scan_12", "None"):
        raise NotImplementedError(f"MSVMamba: sscore_type={sscore!r} is not supported (released: multiscale_4scan_12)")
    ms_stage = set(kw.pop("ms_stage", range(len(depths))))
    scan = ["multiscale" if sscore != "None" and i in ms_stage else "cross" for i in range(len(depths))]
    model = lazy("visionssm.models.msvmamba", "MSVMamba")(
        in_chans=kw.pop("in_chans", 3), num_classes=kw.pop("num_classes", 1000), depths=depths,
        dims=kw.pop("dims", (96, 192, 384, 768)), d_state=kw.pop("ssm_d_state", 16),
        ssm_ratio=kw.pop("ssm_ratio", 2.0), dt_rank=kw.pop("ssm_dt_rank", "auto"), ssm_conv=kw.pop("ssm_conv", 3),
        ssm_conv_bias=kw.pop("ssm_conv_bias", True), scan=scan, add_se=kw.pop("add_se", False),
        conv_ffn=kw.pop("convFFN", False), ffn_drop=kw.pop("ffn_dropout", 0.0),
        patch_size=kw.pop("patch_size", 4), patch_norm=kw.pop("patch_norm", True),
        drop_path_rate=kw.pop("drop_path_rate", 0.1))
    if kw:
        raise TypeError(f"unsupported official MSVMamba kwargs: {sorted(kw)}")
    return model


register_family(FamilyConverter(
    family="msvmamba", build=build_from_official, convert=lazy("visionssm.models.msvmamba", "checkpoint_filter_fn"),
    guess_variant=lazy("visionssm.models.msvmamba", "guess_variant")))
