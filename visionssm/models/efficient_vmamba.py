"""EfficientVMamba: atrous selective scan for light-weight visual Mamba (Pei, Huang, Xu, 2024).

Paper: https://arxiv.org/abs/2403.09977 — official code: https://github.com/TerryPei/EfficientVMamba.

Stages 1–2 are EVSS blocks: a 2D SSM with the ``atrous`` (ES2D) scan beside a depthwise-conv branch, both
gated by ONE shared channel-attention module (BiAttn); stages 3–4 are MobileNetV2 inverted-residual blocks.
The body runs channels-last (B, H, W, C) like the official code; features come out NCHW.

The token mixer is ``visionssm.layers.SS2D``; the stem / patch-merging / head / stage pieces below are shared with
``msvmamba`` (same VMamba-v1 layout).
Official checkpoints load through ``checkpoint_filter_fn`` or ``visionssm.convert.from_official('efficientvmamba',
...)``; with the official weights our model reproduces the official logits (tests/models/test_efficient_vmamba.py).
"""
import re
import warnings
from collections import OrderedDict
from functools import partial
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import torch
from timm.layers import DropPath, register_notrace_module
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._manipulate import checkpoint_seq
from torch import nn

from visionssm.convert import register_family, unwrap_state_dict
from visionssm.convert.registry import FamilyConverter
from visionssm.layers import SS2D

from ._hierarchical import (
    HierarchicalBackbone,
    drop_path_rates,
    stage_dims,
    stage_feature_info,
)
from ._hierarchical import init_weights as hierarchical_init_weights

__all__ = ["EfficientVMamba", "checkpoint_filter_fn", "init_weights"]


# shared with the other hierarchical families (names kept for ``msvmamba`` and existing imports)
_dims, _drop_path_rates = stage_dims, drop_path_rates
init_weights = partial(hierarchical_init_weights, trunc_normal=nn.init.trunc_normal_)  # torch's draw (seeded init)


# ----------------------------------------------------------------------------------------------------------------
# Shared VMamba-v1-style pieces (channels-last body)
# ----------------------------------------------------------------------------------------------------------------
class Stem(nn.Module):
    """Conv patch_size×patch_size / patch_size, then LayerNorm over channels (output NHWC)."""

    def __init__(self, in_chans: int, dim: int, patch_size: int = 4, patch_norm: bool = True, eps: float = 1e-5):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(dim, eps=eps) if patch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x).permute(0, 2, 3, 1))


@register_notrace_module  # a leaf for torch.fx: it pads odd sizes
class PatchMerging(nn.Module):
    """2×2 patch merging (NHWC): zero-pad odd sides, concat the 4 sub-grids, LayerNorm(4C), Linear → out_dim."""

    def __init__(self, dim: int, out_dim: int, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[1:3]
        if H % 2 or W % 2:
            x = nn.functional.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


class NormPoolHead(nn.Module):
    """LayerNorm → global average pool → dropout → Linear (official order: norm before pool). Input NHWC."""

    def __init__(self, in_features: int, num_classes: int, pool_type: str = "avg", drop_rate: float = 0.0,
                 eps: float = 1e-5):
        super().__init__()
        self.in_features = in_features
        self.norm = nn.LayerNorm(in_features, eps=eps)
        self.pool_type = self._check_pool(pool_type)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_features, num_classes) if num_classes > 0 else nn.Identity()

    @staticmethod
    def _check_pool(pool_type: str) -> str:
        if pool_type not in ("avg", "max", ""):
            raise ValueError(f"global_pool must be 'avg', 'max' or '' (no pooling), got {pool_type!r}")
        return pool_type

    def reset(self, num_classes: int, pool_type: Optional[str] = None, in_features: Optional[int] = None) -> None:
        if in_features is not None:
            self.in_features = in_features
        if pool_type is not None:
            self.pool_type = self._check_pool(pool_type)
        self.fc = nn.Linear(self.in_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.norm(x)
        if self.pool_type == "avg":
            x = x.mean(dim=(1, 2))
        elif self.pool_type == "max":
            x = x.amax(dim=(1, 2))
        x = self.drop(x)
        return x if pre_logits else self.fc(x)


class Stage(nn.Module):
    """Optional downsample (from the previous stage) then blocks; channels-last in and out.

    ``channels_first`` blocks (inverted residuals) get an NCHW view of the map.
    """

    def __init__(self, blocks: List[nn.Module], downsample: Optional[nn.Module] = None, channels_first: bool = False):
        super().__init__()
        self.downsample = downsample if downsample is not None else nn.Identity()
        self.blocks = nn.Sequential(*blocks)
        self.channels_first = channels_first
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if self.channels_first:
            x = x.permute(0, 3, 1, 2)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        return x.permute(0, 2, 3, 1) if self.channels_first else x


class HierarchicalSSM(HierarchicalBackbone):
    """The channels-last VMamba-v1-style families (stem, 4 stages, norm-pool head owning the final norm)."""

    output_fmt = "NHWC"
    body_fmt = "NHWC"
    intermediate_fmts = ("NCHW", "NHWC")
    norm_in_head = True

    def _init_contract(self, dims: List[int], num_classes: int, in_chans: int, global_pool: str,
                       drop_rate: float) -> None:
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_features = self.head_hidden_size = dims[-1]
        self.feature_info = stage_feature_info(dims)
        self.head = NormPoolHead(dims[-1], num_classes, global_pool, drop_rate)


# ----------------------------------------------------------------------------------------------------------------
# EfficientVMamba blocks
# ----------------------------------------------------------------------------------------------------------------
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


class EfficientVMamba(HierarchicalSSM):
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
        self.stem = Stem(in_chans, dims[0], patch_size, patch_norm)
        dpr = drop_path_rates(drop_path_rate, sum(depths))
        stages = []
        for i, (_depth, dim) in enumerate(zip(depths, dims)):
            rates = dpr[sum(depths[:i]):sum(depths[:i + 1])]
            down = PatchMerging(dims[i - 1], dim) if i > 0 else None
            if i < ssm_stages:
                blocks = [EVSSBlock(dim, r, mlp_ratio, gate_ratio, d_state=d_state, ssm_ratio=ssm_ratio,
                                    dt_rank=dt_rank, d_conv=ssm_conv, conv_bias=ssm_conv_bias,
                                    scan=scan, backend=ssm_backend)
                          for r in rates]
                stages.append(Stage(blocks, down))
            else:
                blocks = [InvertedResidual(dim, ir_expand_ratio, ir_se_ratio, r) for r in rates]
                stages.append(Stage(blocks, down, channels_first=True))
        self.stages = nn.Sequential(*stages)
        self.apply(init_weights)


# ----------------------------------------------------------------------------------------------------------------
# Official checkpoints
# ----------------------------------------------------------------------------------------------------------------
_EVM_BLOCK_RENAMES = (
    (".op.conv2d.", ".mixer.conv."),
    (".op.out_norm.", ".mixer.out_norm."),
    (".op.", ".mixer."),
    (".conv_branch.0.", ".conv_branch.dw."),
    (".conv_branch.1.", ".conv_branch.bn."),
    (".conv_branch.3.", ".conv_branch.pw."),
    (".se.global_reduce.", ".gate.reduce."),
    (".se.channel_select.", ".gate.expand."),
    (".se.norm.", ".gate.norm."),
)
_SSM_PARAMS = ("x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A_logs", "Ds")
_IR_RENAMES = {"conv_pw.0": "conv_pw", "conv_pw.1": "bn1", "conv_dw.0": "conv_dw", "conv_dw.1": "bn2",
               "se.conv_reduce": "se.reduce", "se.conv_expand": "se.expand", "conv_pw2.0": "conv_pwl",
               "conv_pw2.1": "bn3"}


def convert_common_key(k: str) -> Optional[str]:
    """Stem, head and the SS2D parameters shared by the VMamba-v1-style families; None when not one of those."""
    if k.startswith("patch_embed.0."):
        return "stem.conv." + k[len("patch_embed.0."):]
    if k.startswith("patch_embed.2."):
        return "stem.norm." + k[len("patch_embed.2."):]
    if k.startswith("classifier.norm."):
        return "head.norm." + k[len("classifier.norm."):]
    if k.startswith("classifier.head."):
        return "head.fc." + k[len("classifier.head."):]
    return None


def _ssm_key(k: str) -> str:
    """``...op.A_logs`` → ``...mixer.ssm.A_logs`` (DirectionalSSM holds the per-direction stacks)."""
    for p in _SSM_PARAMS:
        if k.endswith(".mixer." + p):
            return k[: -len(p)] + "ssm." + p
    return k


def convert_v1_checkpoint(state_dict: Mapping, block_key: Callable[[str], str],
                          other_key: Optional[Callable[[str], Optional[str]]] = None) -> Dict[str, torch.Tensor]:
    """Official VMamba-v1-layout checkpoints (EfficientVMamba, MSVMamba) → ours; ours pass through unchanged.

    Stem, head and ``layers.i.downsample`` map the same in both families; ``block_key`` renames a block key
    already moved to ``stages.i.blocks.j.``; ``other_key`` handles any other family layout (None: kept).
    """
    state_dict = unwrap_state_dict(state_dict)
    if any(k.startswith(("stem.", "stages.")) for k in state_dict):
        return dict(state_dict)
    out = {}
    for k, v in state_dict.items():
        if k.startswith("outnorm"):  # the detection backbones' norms: no counterpart in a classifier
            continue
        new = convert_common_key(k)
        if new is None:
            m = re.match(r"layers\.(\d+)\.downsample\.(.*)", k)
            if m:
                new = f"stages.{int(m.group(1)) + 1}.downsample.{m.group(2)}"
        if new is None:
            m = re.match(r"layers\.(\d+)\.blocks\.(\d+)\.(.*)", k)
            if m:
                new = _ssm_key(block_key(f"stages.{m.group(1)}.blocks.{m.group(2)}.{m.group(3)}"))
        if new is None and other_key is not None:
            new = other_key(k)
        out[new if new is not None else k] = v
    return out


def guess_v1_variant(state_dict: Mapping, variants: Mapping[str, Mapping], convert: Callable) -> str:
    """Name the released variant (``variants``: name → {dims, depths}) a state dict looks like."""
    sd = convert(state_dict)
    dim = sd["stem.conv.weight"].shape[0] if "stem.conv.weight" in sd else None
    depths = []
    for i in range(4):
        idx = {int(m.group(1)) for k in sd for m in [re.match(rf"stages\.{i}\.blocks\.(\d+)\.", k)] if m}
        depths.append(max(idx) + 1 if idx else 0)
    for name, cfg in variants.items():
        if cfg["dims"] == dim and list(cfg["depths"]) == depths:
            return name
    return f"no released variant (dims={dim}, depths={depths})"


def _evm_block_key(k: str) -> str:
    for a, b in _EVM_BLOCK_RENAMES:
        k = k.replace(a, b, 1) if a in k else k
    return k


def _evm_ir_key(k: str) -> Optional[str]:
    """layers.i = Sequential(Permute, InvertedResidual × depth (indices 1..depth), Permute, downsample)."""
    m = re.match(r"layers\.(\d+)\.(\d+)\.(.*)", k)
    if not m:
        return None
    i, j, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    if rest.startswith(("reduction.", "norm.")):
        return f"stages.{i + 1}.downsample.{rest}"
    for a, b in _IR_RENAMES.items():
        if rest.startswith(a + "."):
            rest = b + rest[len(a):]
            break
    return f"stages.{i}.blocks.{j - 1}.{rest}"


def checkpoint_filter_fn(state_dict: Mapping, model: Optional[nn.Module] = None) -> Dict[str, torch.Tensor]:
    """Official EfficientVMamba checkpoints → ours.

    Accepts ``{'state_dict': {'module.module.…'}}`` (the released .ckpt), ``{'model'}`` and plain state dicts;
    converted (ours) state dicts pass through unchanged.
    """
    return convert_v1_checkpoint(state_dict, _evm_block_key, _evm_ir_key)


def guess_variant(state_dict: Mapping) -> str:
    """Name the released variant an (official or converted) state dict looks like."""
    return guess_v1_variant(state_dict, _VARIANTS, checkpoint_filter_fn)


# ----------------------------------------------------------------------------------------------------------------
# timm registration
# ----------------------------------------------------------------------------------------------------------------
_VARIANTS = {
    "efficient_vmamba_tiny": {"depths": (2, 2, 4, 2), "dims": 48},
    "efficient_vmamba_small": {"depths": (2, 2, 4, 2), "dims": 64},  # released S is dims 64 (its yaml says 96)
    "efficient_vmamba_base": {"depths": (2, 2, 9, 2), "dims": 96},
}

# Published parameter counts (millions), from the official training logs linked in the README
# (github.com/TerryPei/EfficientVMamba/releases/download/v1.0.0/log_efficient_vmamba_{tiny,small,base}.txt;
# README table: 6M / 11M / 33M), as recorded in shared/reference/anchors_backbones.md §5.2.
PUBLISHED_PARAMS = {"efficient_vmamba_tiny": 6.494, "efficient_vmamba_small": 11.274, "efficient_vmamba_base": 33.717}

# Same architecture (atrous EVSS stages 1–2, inverted residuals 3–4), shrunk for the CPU invariant tests.
SMALL_TEST_CONFIGS = {name: {"depths": (1, 1, 1, 1), "dims": 8, "d_state": 4} for name in _VARIANTS}


def v1_cfg(**kwargs) -> Dict:
    """pretrained_cfg fields common to the VMamba-v1-layout families (ImageNet-1k, 224², stem.conv / head.fc)."""
    return {
        "url": "", "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7), "crop_pct": 0.875,
        "interpolation": "bicubic", "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
        "first_conv": "stem.conv", "classifier": "head.fc", **kwargs,
    }


def _cfg(**kwargs) -> Dict:
    return v1_cfg(
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
})


def create_v1_model(cls, variant: str, pretrained: bool, filter_fn: Callable, **kwargs) -> nn.Module:
    """build_model_with_cfg for the channels-last v1-layout families (features through the model's getter)."""
    out_indices = kwargs.pop("out_indices", (0, 1, 2, 3))
    return build_model_with_cfg(
        cls, variant, pretrained, pretrained_filter_fn=filter_fn,
        feature_cfg={"out_indices": out_indices, "feature_cls": "getter"}, **kwargs)


def _create(variant: str, pretrained: bool = False, **kwargs) -> EfficientVMamba:
    return create_v1_model(EfficientVMamba, variant, pretrained, checkpoint_filter_fn, **kwargs)


@register_model
def efficient_vmamba_tiny(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-T: 6.5M params, 0.8 GFLOPs, 76.5% IN-1k top-1."""
    return _create("efficient_vmamba_tiny", pretrained, **dict(_VARIANTS["efficient_vmamba_tiny"], **kwargs))


@register_model
def efficient_vmamba_small(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-S: 11.3M params, 1.3 GFLOPs, 78.7% IN-1k top-1 (dims 64, as released)."""
    return _create("efficient_vmamba_small", pretrained, **dict(_VARIANTS["efficient_vmamba_small"], **kwargs))


@register_model
def efficient_vmamba_base(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-B: 33.7M params, 4.0 GFLOPs, 81.8% IN-1k top-1."""
    return _create("efficient_vmamba_base", pretrained, **dict(_VARIANTS["efficient_vmamba_base"], **kwargs))


# ----------------------------------------------------------------------------------------------------------------
# from_official('efficientvmamba', kwargs, checkpoint)
# ----------------------------------------------------------------------------------------------------------------
_IGNORED_OFFICIAL = ("attn_drop_rate", "shared_ssm", "softmax_version", "use_checkpoint", "window_size",
                     "norm_layer", "drop_rate")


def build_from_official(kwargs: Mapping) -> EfficientVMamba:
    """``EfficientVSSM(**kwargs)`` → our model with the same architecture (weights random)."""
    kw = dict(kwargs)
    if kw.pop("downsample_version", "v2") != "v1":
        raise NotImplementedError("EfficientVMamba: only downsample_version='v1' (PatchMerging2D, every release) "
                                  "is supported")
    if kw.pop("step_size", 2) != 2:
        raise NotImplementedError("EfficientVMamba: only the atrous step 2 of the releases is supported")
    # EfficientVSSM passes d_state=/dt_rank= to a _make_layer that ignores them: 16 / "auto" always apply.
    for name, used in (("d_state", 16), ("dt_rank", "auto")):
        if name in kw and kw.pop(name) != used:
            warnings.warn(f"official EfficientVSSM ignores {name}=; building with {name}={used!r} as it does",
                          stacklevel=2)
    for name in _IGNORED_OFFICIAL:
        kw.pop(name, None)
    model = EfficientVMamba(
        in_chans=kw.pop("in_chans", 3), num_classes=kw.pop("num_classes", 1000),
        depths=tuple(kw.pop("depths", (2, 2, 9, 2))), dims=kw.pop("dims", (96, 192, 384, 768)),
        ssm_ratio=kw.pop("ssm_ratio", 2.0), mlp_ratio=kw.pop("mlp_ratio", 4.0), patch_size=kw.pop("patch_size", 4),
        patch_norm=kw.pop("patch_norm", True), drop_path_rate=kw.pop("drop_path_rate", 0.1))
    if kw:
        raise TypeError(f"unsupported official EfficientVSSM kwargs: {sorted(kw)}")
    return model


register_family(FamilyConverter(
    family="efficientvmamba", build=build_from_official, convert=checkpoint_filter_fn, guess_variant=guess_variant))
