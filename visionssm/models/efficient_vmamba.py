"""EfficientVMamba: atrous selective scan for light-weight visual Mamba (Pei, Huang, Xu, 2024).

Paper: https://arxiv.org/abs/2403.09977 — official code: https://github.com/TerryPei/EfficientVMamba.

Stages 1–2 are EVSS blocks: a 2D SSM with the ``atrous`` (ES2D) scan beside a depthwise-conv branch, both
gated by ONE shared channel-attention module (BiAttn); stages 3–4 are MobileNetV2 inverted-residual blocks.
The stem, patch merging, stages and head are the VMamba-v1 body of ``_vssm_v1`` (channels-last, NCHW features).
Official checkpoints load through ``checkpoint_filter_fn`` or ``visionssm.convert.from_official('efficientvmamba',
...)``; with the official weights our model reproduces the official logits (tests/models/test_efficient_vmamba.py).
"""
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from timm.layers import DropPath
from timm.models import generate_default_cfgs, register_model
from torch import nn

from visionssm.convert.common import checked_weights
from visionssm.convert.efficient_vmamba import convert_checkpoint
from visionssm.layers import SS2D

from . import _vssm_v1 as v1
from ._hierarchical import drop_path_rates, stage_dims
from ._test_variants import TEST_CFG

__all__ = ["EfficientVMamba", "checkpoint_filter_fn"]


class BiAttnGate(nn.Module):
    """EfficientVMamba's BiAttn channel gate (NHWC): LN, spatial mean, Linear, GELU, Linear, sigmoid·x."""

    def __init__(self, dim: int, ratio: float = 0.125):
        super().__init__()
        hidden = int(dim * ratio)
        self.norm = nn.LayerNorm(dim)
        self.reduce = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.expand = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.norm(x).mean(dim=(1, 2), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class ChannelsLastMlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class EVSSBlock(nn.Module):
    """x + drop_path(gate(SS2D(LN x)) + gate(ConvBranch(LN x))), the SAME gate module on both branches."""

    def __init__(self, dim: int, drop_path: float = 0.0, mlp_ratio: float = 0.0, gate_ratio: float = 0.125,
                 **mixer_kwargs):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mixer = SS2D(dim, **mixer_kwargs)
        self.conv_branch = nn.Sequential(OrderedDict(
            dw=nn.Conv2d(dim, dim, 3, padding=1, groups=dim), bn=nn.BatchNorm2d(dim), act=nn.GELU(),
            pw=nn.Conv2d(dim, dim, 1)))
        self.gate = BiAttnGate(dim, gate_ratio)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim) if mlp_ratio > 0 else None
        self.mlp = ChannelsLastMlp(dim, int(dim * mlp_ratio)) if mlp_ratio > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xn = self.norm(x)
        y_conv = self.conv_branch(xn.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        x = x + self.drop_path(self.gate(self.mixer(xn)) + self.gate(y_conv))
        if self.mlp is not None:
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class SqueezeExcite(nn.Module):
    """Conv SE (NCHW): avg pool → 1×1 conv → ReLU → 1×1 conv → sigmoid · x."""

    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU(inplace=True)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.expand(self.act(self.reduce(x.mean(dim=(2, 3), keepdim=True)))))


class InvertedResidual(nn.Module):
    """MobileNetV2 block (NCHW) as EfficientVMamba's stages 3–4 use it: expand 4, DW3×3, SE 0.125, ReLU, BN."""

    def __init__(self, dim: int, expand_ratio: float = 4.0, se_ratio: float = 0.125, drop_path: float = 0.0):
        super().__init__()
        mid = int(dim * expand_ratio)
        self.conv_pw = nn.Conv2d(dim, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv_dw = nn.Conv2d(mid, mid, 3, padding=1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.act = nn.ReLU(inplace=True)
        self.se = SqueezeExcite(mid, max(1, int(mid * se_ratio)))
        self.conv_pwl = nn.Conv2d(mid, dim, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv_pw(x)))
        y = self.se(self.act(self.bn2(self.conv_dw(y))))
        return x + self.drop_path(self.bn3(self.conv_pwl(y)))


class EfficientVMamba(v1.HierarchicalSSM):
    """EfficientVMamba classifier / backbone.

    Args:
        depths: blocks per stage. dims: int (doubled per stage, official) or per-stage list.
        ssm_stages: how many leading stages use EVSS blocks (official 2); the rest are inverted residuals.
        d_state, ssm_ratio, dt_rank, ssm_conv, ssm_conv_bias: SS2D hyper-parameters (official 16, 2, auto, 3, True).
        scan: scan strategy of the SS2D mixers (default ``atrous``, the official ES2D); any registered scan.
        mlp_ratio: channel MLP in EVSS blocks (0 in every release). gate_ratio: BiAttn reduction (0.125).
        ir_expand_ratio, ir_se_ratio: inverted-residual expansion and SE ratio (4, 0.125).
        ssm_backend: selective-scan backend ("auto", "ref", "torch", "numba", "triton").
    """

    def __init__(self, in_chans: int = 3, num_classes: int = 1000, global_pool: str = "avg",
                 depths: Sequence[int] = (2, 2, 4, 2), dims: Union[int, Sequence[int]] = 48, ssm_stages: int = 2,
                 d_state: int = 16, ssm_ratio: float = 2.0, dt_rank: Union[int, str] = "auto", ssm_conv: int = 3,
                 ssm_conv_bias: bool = True, scan="atrous", mlp_ratio: float = 0.0, gate_ratio: float = 0.125,
                 ir_expand_ratio: float = 4.0, ir_se_ratio: float = 0.125, patch_size: int = 4,
                 patch_norm: bool = True, drop_rate: float = 0.0, drop_path_rate: float = 0.2,
                 ssm_backend: str = "auto"):
        super().__init__()
        dims = stage_dims(dims, len(depths))
        self._init_contract(dims, num_classes, in_chans, global_pool, drop_rate)
        self.stem = v1.Stem(in_chans, dims[0], patch_size, patch_norm)
        dpr = drop_path_rates(drop_path_rate, sum(depths))
        stages = []
        for i, (_depth, dim) in enumerate(zip(depths, dims)):
            rates = dpr[sum(depths[:i]):sum(depths[:i + 1])]
            down = v1.PatchMerging(dims[i - 1], dim) if i > 0 else None
            if i < ssm_stages:
                blocks = [EVSSBlock(dim, r, mlp_ratio, gate_ratio, d_state=d_state, ssm_ratio=ssm_ratio,
                                    dt_rank=dt_rank, d_conv=ssm_conv, conv_bias=ssm_conv_bias,
                                    scan=scan, backend=ssm_backend)
                          for r in rates]
                stages.append(v1.Stage(blocks, down))
            else:
                blocks = [InvertedResidual(dim, ir_expand_ratio, ir_se_ratio, r) for r in rates]
                stages.append(v1.Stage(blocks, down, channels_first=True))
        self.stages = nn.Sequential(*stages)
        self.apply(v1.init_weights)


def checkpoint_filter_fn(state_dict: Mapping, model: Optional[nn.Module] = None) -> Dict[str, torch.Tensor]:
    """Official EfficientVMamba checkpoints (see ``visionssm.convert.efficient_vmamba``) or ours → our keys."""
    return checked_weights(convert_checkpoint(state_dict), model)


def guess_variant(state_dict: Mapping) -> str:
    """Name the released variant an (official or converted) state dict looks like."""
    return v1.guess_variant(state_dict, _VARIANTS, checkpoint_filter_fn)


# ----------------------------------------------------------------------------------------------------------------
# timm registration
# ----------------------------------------------------------------------------------------------------------------
_VARIANTS = {
    "efficient_vmamba_tiny": {"depths": (2, 2, 4, 2), "dims": 48},
    "efficient_vmamba_small": {"depths": (2, 2, 4, 2), "dims": 64},  # released S is dims 64 (its yaml says 96)
    "efficient_vmamba_base": {"depths": (2, 2, 9, 2), "dims": 96},
}

# Same architecture (atrous EVSS stages 1–2, inverted residuals 3–4), shrunk for the CPU invariant tests.
SMALL_TEST_CONFIGS = {name: {"depths": (1, 1, 1, 1), "dims": 8, "d_state": 4} for name in _VARIANTS}


def _cfg(**kwargs) -> Dict:
    return v1.pretrained_cfg(
        license="unknown", paper_ids="arXiv:2403.09977",
        paper_name="EfficientVMamba: Atrous Selective Scan for Light Weight Visual Mamba",
        origin_url="https://github.com/TerryPei/EfficientVMamba",
        notes=("official weights converted by checkpoint_filter_fn; the official repository has no LICENSE file",),
        **kwargs)


default_cfgs = generate_default_cfgs({
    "efficient_vmamba_tiny.in1k": _cfg(hf_hub_id="TerryPei/EfficientVMamba-Tiny",
                                       hf_hub_filename="efficient_vmamba_tiny.ckpt"),
    "efficient_vmamba_small.in1k": _cfg(hf_hub_id="TerryPei/EfficientVMamba-Small",
                                        hf_hub_filename="efficient_vmamba_small.ckpt"),
    "efficient_vmamba_base.in1k": _cfg(hf_hub_id="TerryPei/EfficientVMamba-Base",
                                       hf_hub_filename="efficient_vmamba_base.ckpt"),
    "test_efficient_vmamba": v1.pretrained_cfg(
        license="unknown", paper_ids="arXiv:2403.09977", origin_url="https://github.com/TerryPei/EfficientVMamba",
        **TEST_CFG),
})


def _create(variant: str, pretrained: bool = False, **kwargs) -> EfficientVMamba:
    return v1.create_model(EfficientVMamba, variant, pretrained, checkpoint_filter_fn, **kwargs)


@register_model
def efficient_vmamba_tiny(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-T: dims 48, depths (2, 2, 4, 2)."""
    return _create("efficient_vmamba_tiny", pretrained, **dict(_VARIANTS["efficient_vmamba_tiny"], **kwargs))


@register_model
def efficient_vmamba_small(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-S: dims 64 (as released), depths (2, 2, 4, 2)."""
    return _create("efficient_vmamba_small", pretrained, **dict(_VARIANTS["efficient_vmamba_small"], **kwargs))


@register_model
def efficient_vmamba_base(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-B: dims 96, depths (2, 2, 9, 2)."""
    return _create("efficient_vmamba_base", pretrained, **dict(_VARIANTS["efficient_vmamba_base"], **kwargs))


@register_model
def test_efficient_vmamba(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """Tiny EfficientVMamba for tests: dims 8, one block per stage (EVSS, EVSS, IR, IR), d_state 4, no weights."""
    return _create("test_efficient_vmamba", pretrained, **dict({"depths": (1, 1, 1, 1), "dims": 8, "d_state": 4}, **kwargs))
