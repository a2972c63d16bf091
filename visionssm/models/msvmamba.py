"""MSVMamba: Multi-Scale VMamba, hierarchy in hierarchy (Shi, Dong, Xu, 2024).

Paper: https://arxiv.org/abs/2405.14174 — official code: https://github.com/YuHengsss/MSVMamba (master branch,
the released Nano / Micro / Tiny models; branch ``v2`` is the different MSVMambav3).

Every block is ``x + SS2D(LN x)`` then ``x + ConvFFN(LN x)``; the SS2D uses the ``multiscale`` (MS2D) scan: one
full-resolution row scan plus three orders of a stride-2 map in one sequence, an SE gate on the merged output, and
d_state 1. The body runs channels-last like the official code; features come out NCHW. Official checkpoints load
through ``checkpoint_filter_fn`` or ``visionssm.convert.from_official('msvmamba', ...)`` and reproduce the official
logits (tests/models/test_msvmamba.py).
"""
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from timm.layers import DropPath
from timm.models import generate_default_cfgs, register_model
from torch import nn

from visionssm.convert.common import checked_weights
from visionssm.convert.msvmamba import convert_checkpoint
from visionssm.layers import SS2D

from . import _vssm_v1 as v1
from ._hierarchical import drop_path_rates, stage_dims
from ._test_variants import TEST_CFG

__all__ = ["MSVMamba", "MultiScaleSS2D", "checkpoint_filter_fn"]


class SqueezeExciteCL(nn.Module):
    """SE on a channels-last map: spatial mean → Linear (no bias) → ReLU → Linear (no bias) → sigmoid · x."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        self.reduce = nn.Linear(channels, channels // reduction, bias=False)
        self.act = nn.ReLU(inplace=True)
        self.expand = nn.Linear(channels // reduction, channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.expand(self.act(self.reduce(x.mean(dim=(1, 2), keepdim=True)))))


class MultiScaleSS2D(SS2D):
    """MSVMamba's SS2D: channels-last, SiLU-gated, ``strategy_hooks`` on (MS2D gets the pre-conv activation and
    normalises each branch itself, the official order) and an optional SE gate before ``· SiLU(z)``."""

    def __init__(self, dim: int, se: Optional[nn.Module] = None, **kwargs):
        super().__init__(dim, se=se, strategy_hooks=True, **kwargs)
        if self.channels_first or self.gate != "silu":
            raise ValueError("MultiScaleSS2D is the channels-last, SiLU-gated SS2D of MSVMamba")


class ConvFFN(nn.Module):
    """1×1 conv (C → rC) → x + DW3×3(x) → GELU → 1×1 conv (rC → C), on NCHW."""

    def __init__(self, dim: int, expansion: int = 2, drop: float = 0.0):
        super().__init__()
        hidden = dim * expansion
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.fc1(x))
        x = self.act(x + self.dwconv(x))
        return self.drop(self.fc2(x))


class MSVSSBlock(nn.Module):
    """x + drop_path(SS2D(LN x)); x + drop_path(ConvFFN(LN x)) (channels-last in and out)."""

    def __init__(self, dim: int, drop_path: float = 0.0, ssm_ratio: float = 2.0, add_se: bool = True,
                 conv_ffn: bool = True, ffn_expansion: int = 2, ffn_drop: float = 0.0, **mixer_kwargs):
        super().__init__()
        d_inner = int(ssm_ratio * dim)
        self.norm = nn.LayerNorm(dim)
        self.mixer = MultiScaleSS2D(dim, se=SqueezeExciteCL(d_inner, 8) if add_se else None, ssm_ratio=ssm_ratio,
                                    **mixer_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim) if conv_ffn else None
        self.ffn = ConvFFN(dim, ffn_expansion, ffn_drop) if conv_ffn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.mixer(self.norm(x)))
        if self.ffn is not None:
            x = x + self.drop_path(self.ffn(self.norm2(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
        return x


class MSVMamba(v1.HierarchicalSSM):
    """MSVMamba classifier / backbone.

    Args:
        depths: blocks per stage. dims: int (doubled per stage, official) or per-stage list.
        d_state, ssm_ratio, dt_rank, ssm_conv, ssm_conv_bias: SS2D hyper-parameters (released: 1, 2, auto, 3, True).
        scan: strategy of every stage (default ``multiscale``, the official MS2D), or one name per stage
            (the official ``ms_stage`` option: stages outside it use ``cross``).
        add_se: SE gate (reduction 8) on the merged SSM output. conv_ffn: ConvFFN after each SS2D (expansion 2).
        ssm_backend: selective-scan backend ("auto", "ref", "torch", "numba", "triton").
    """

    def __init__(self, in_chans: int = 3, num_classes: int = 1000, global_pool: str = "avg",
                 depths: Sequence[int] = (1, 2, 5, 2), dims: Union[int, Sequence[int]] = 48, d_state: int = 1,
                 ssm_ratio: float = 2.0, dt_rank: Union[int, str] = "auto", ssm_conv: int = 3,
                 ssm_conv_bias: bool = True, scan: Union[str, Sequence[str]] = "multiscale", add_se: bool = True,
                 conv_ffn: bool = True, ffn_drop: float = 0.0, patch_size: int = 4, patch_norm: bool = True,
                 drop_rate: float = 0.0, drop_path_rate: float = 0.2, ssm_backend: str = "auto"):
        super().__init__()
        dims = stage_dims(dims, len(depths))
        scans = [scan] * len(depths) if isinstance(scan, str) else list(scan)
        if len(scans) != len(depths):
            raise ValueError(f"scan lists {len(scans)} strategies for {len(depths)} stages")
        self._init_contract(dims, num_classes, in_chans, global_pool, drop_rate)
        self.stem = v1.Stem(in_chans, dims[0], patch_size, patch_norm)
        dpr = drop_path_rates(drop_path_rate, sum(depths))
        stages = []
        for i, dim in enumerate(dims):
            rates = dpr[sum(depths[:i]):sum(depths[:i + 1])]
            blocks = [MSVSSBlock(dim, r, ssm_ratio, add_se, conv_ffn, ffn_drop=ffn_drop, d_state=d_state,
                                 dt_rank=dt_rank, d_conv=ssm_conv, conv_bias=ssm_conv_bias, scan=scans[i],
                                 backend=ssm_backend) for r in rates]
            stages.append(v1.Stage(blocks, v1.PatchMerging(dims[i - 1], dim) if i > 0 else None))
        self.stages = nn.Sequential(*stages)
        self.apply(v1.init_weights)


# ----------------------------------------------------------------------------------------------------------------
# Official checkpoints
# ----------------------------------------------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: Mapping, model: Optional[nn.Module] = None) -> Dict[str, torch.Tensor]:
    """Official MSVMamba (master) checkpoints (see ``visionssm.convert.msvmamba``) or ours → our keys."""
    return checked_weights(convert_checkpoint(state_dict), model)


_VARIANTS = {
    "msvmamba_nano": {"depths": (1, 2, 5, 2), "dims": 48},
    "msvmamba_micro": {"depths": (1, 2, 5, 2), "dims": 64},
    "msvmamba_tiny": {"depths": (1, 2, 9, 2), "dims": 96},
}


def guess_variant(state_dict: Mapping) -> str:
    """Name the released variant an (official or converted) state dict looks like."""
    return v1.guess_variant(state_dict, _VARIANTS, checkpoint_filter_fn)


# ----------------------------------------------------------------------------------------------------------------
# timm registration
# ----------------------------------------------------------------------------------------------------------------
# Same architecture (multiscale SS2D + SE + ConvFFN in every stage), shrunk for the CPU invariant tests.
SMALL_TEST_CONFIGS = {name: {"depths": (1, 1, 1, 1), "dims": 8} for name in _VARIANTS}

_DRIVE = {
    "msvmamba_nano": "https://drive.google.com/drive/folders/1J41w3ApitQhp2O3wHmJoOs4U032uqebK",
    "msvmamba_micro": "https://drive.google.com/drive/folders/1jfl2GmuKcUB8sPwRlyHK_wT0MjqgljYk",
    "msvmamba_tiny": "https://drive.google.com/drive/folders/1ddNWk89ohcxxMuVEaJ2Y5A6xeBKgA7lU",
}


def _cfg(variant: str, **kwargs) -> Dict:
    return v1.pretrained_cfg(
        license="unknown", paper_ids="arXiv:2405.14174",
        paper_name="Multi-Scale VMamba: Hierarchy in Hierarchy Visual State Space Model",
        origin_url=_DRIVE[variant],
        notes=("official weights are a Google-Drive folder (no direct URL): download the .pth and load it with "
               "pretrained=True, pretrained_cfg_overlay=dict(file=path); the official repository has no "
               "LICENSE file",),
        **kwargs)


default_cfgs = generate_default_cfgs({f"{name}.in1k": _cfg(name) for name in _VARIANTS})
default_cfgs.update(generate_default_cfgs({"test_msvmamba": v1.pretrained_cfg(
    license="unknown", paper_ids="arXiv:2405.14174", origin_url="https://github.com/YuHengsss/MSVMamba", **TEST_CFG)}))


def _create(variant: str, pretrained: bool = False, **kwargs) -> MSVMamba:
    return v1.create_model(MSVMamba, variant, pretrained, checkpoint_filter_fn, **kwargs)


@register_model
def msvmamba_nano(pretrained: bool = False, **kwargs) -> MSVMamba:
    """MSVMamba-Nano: dims 48, depths (1, 2, 5, 2)."""
    return _create("msvmamba_nano", pretrained, **dict(_VARIANTS["msvmamba_nano"], **kwargs))


@register_model
def msvmamba_micro(pretrained: bool = False, **kwargs) -> MSVMamba:
    """MSVMamba-Micro: dims 64, depths (1, 2, 5, 2)."""
    return _create("msvmamba_micro", pretrained, **dict(_VARIANTS["msvmamba_micro"], **kwargs))


@register_model
def msvmamba_tiny(pretrained: bool = False, **kwargs) -> MSVMamba:
    """MSVMamba-Tiny: dims 96, depths (1, 2, 9, 2)."""
    return _create("msvmamba_tiny", pretrained, **dict(_VARIANTS["msvmamba_tiny"], **kwargs))


@register_model
def test_msvmamba(pretrained: bool = False, **kwargs) -> MSVMamba:
    """Tiny MSVMamba for tests: dims 8, one block per stage (multiscale SS2D, SE, ConvFFN), no weights."""
    return _create("test_msvmamba", pretrained, **dict({"depths": (1, 1, 1, 1), "dims": 8}, **kwargs))
