"""Normalisation layers and layout helpers for channels-first (NCHW) and channels-last (NHWC) bodies.

The official vision-SSM code uses ``nn.LayerNorm`` defaults (eps 1e-5) in both layouts; timm's
``LayerNorm2d`` defaults to eps 1e-6, which is enough to break 1e-4 parity, so ours keeps 1e-5.
"""
import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (VMamba's ``ln2d``)."""

    def __init__(self, num_channels: int, eps: float = 1e-5, elementwise_affine: bool = True, **kwargs):
        super().__init__(num_channels, eps=eps, elementwise_affine=elementwise_affine, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def nchw_to_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)


def nhwc_to_nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


def channel_norm(num_channels: int, channels_first: bool, eps: float = 1e-5) -> nn.Module:
    """LayerNorm over channels for the given layout (NCHW if ``channels_first`` else NHWC / (B, L, C))."""
    return LayerNorm2d(num_channels, eps=eps) if channels_first else nn.LayerNorm(num_channels, eps=eps)


def pointwise_linear(in_features: int, out_features: int, channels_first: bool, bias: bool = True) -> nn.Module:
    """A per-pixel Linear: ``nn.Conv2d`` 1×1 on NCHW, ``nn.Linear`` on NHWC (same maths, official layouts)."""
    if channels_first:
        return nn.Conv2d(in_features, out_features, kernel_size=1, bias=bias)
    return nn.Linear(in_features, out_features, bias=bias)
