"""The channels-last VMamba-v1 body that EfficientVMamba and MSVMamba share: patch stem, 2×2 patch merging, stages
that may run NCHW blocks, a norm → pool → fc head, and the timm plumbing of those families.

The body runs channels-last (B, H, W, C) like the official code of both families; features come out NCHW.
"""
import re
from functools import partial
from typing import Callable, Dict, List, Mapping, Optional

import torch
from timm.layers import register_notrace_module
from timm.models import build_model_with_cfg
from timm.models._manipulate import checkpoint_seq
from torch import nn

from ._hierarchical import HierarchicalBackbone, stage_feature_info
from ._hierarchical import init_weights as hierarchical_init_weights

__all__ = ["HierarchicalSSM", "NormPoolHead", "PatchMerging", "Stage", "Stem", "create_model", "guess_variant",
           "init_weights", "pretrained_cfg"]

init_weights = partial(hierarchical_init_weights, trunc_normal=nn.init.trunc_normal_)  # torch's draw (seeded init)


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


def guess_variant(state_dict: Mapping, variants: Mapping[str, Mapping], convert: Callable) -> str:
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


def pretrained_cfg(**kwargs) -> Dict:
    """pretrained_cfg fields common to the VMamba-v1-layout families (ImageNet-1k, 224², stem.conv / head.fc)."""
    return {
        "url": "", "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7), "crop_pct": 0.875,
        "interpolation": "bicubic", "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
        "first_conv": "stem.conv", "classifier": "head.fc", **kwargs,
    }


def create_model(cls, variant: str, pretrained: bool, filter_fn: Callable, **kwargs) -> nn.Module:
    """build_model_with_cfg for the channels-last v1-layout families (features through the model's getter)."""
    out_indices = kwargs.pop("out_indices", (0, 1, 2, 3))
    return build_model_with_cfg(
        cls, variant, pretrained, pretrained_filter_fn=filter_fn,
        feature_cfg={"out_indices": out_indices, "feature_cls": "getter"}, **kwargs)
