"""MHS-VM block: VM-UNet's VSS block with the multi-head scan module (MHSM) as its mixer.

Paper: "MHS-VM: Multi-Head Scanning in Parallel Subspaces for Vision Mamba", Ji, 2024 (arXiv:2406.05992).
Original code: https://github.com/PixDeep/MHS-VM. The scan orders and the gated fusion unit are the registered
``multihead`` strategy (:mod:`visionssm.scans.multihead`); this module adds the plain layers MHSM wraps around
it, which SS2D does not have:

``x → in_proj (C → 2C) → (x, z)``; ``x → DW3×3 → SiLU → head_proj (C → h·C/h, no bias) → multihead scan
(one 4-direction SSM per head, d_inner = C/h, dt_rank = ceil(C/h / 16)) → cat_norm → y_proj (no bias)
→ out_norm → · SiLU(z)``; no out_proj (the original ``VSSGate``).
"""
import math

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn

from visionssm.layers.ssm import DirectionalSSM
from visionssm.scans import get_scan

__all__ = ["MHSBlock", "MHSMixer", "mhs_block_factory"]


class MHSMixer(nn.Module):
    """Multi-head scan mixer on NHWC tensors (the original ``VSSGate`` + ``MHSM``).

    Args:
        dim: channels C. heads: 3 ("CXS") or 4 ("CXSZ") route patterns, or a pattern string.
        gfu_t: GFU threshold (released: 0.5 for ISIC18, 0.0 for ISIC17). d_state: N.
        with_proj: cat_norm + y_proj after the heads (released configs: True).
    """

    def __init__(self, dim: int, heads=4, gfu_t: float = 0.0, d_state: int = 16, d_conv: int = 3,
                 conv_bias: bool = True, with_proj: bool = True, dropout: float = 0.0, backend: str = "auto"):
        super().__init__()
        self.scan = get_scan("multihead", {"heads": heads, "gfu_t": gfu_t})
        h = self.scan.num_heads
        self.d_head = dim // h
        if self.d_head < 1:
            raise ValueError(f"MHS mixer: dim={dim} is smaller than heads={h}")
        d_cat = self.d_head * h
        if not with_proj and d_cat != dim:
            raise ValueError(f"with_proj=False needs dim ({dim}) divisible by heads ({h})")
        self.in_proj = nn.Linear(dim, 2 * dim, bias=False)
        self.conv = nn.Conv2d(dim, dim, d_conv, padding=(d_conv - 1) // 2, groups=dim, bias=conv_bias)
        self.act = nn.SiLU()
        self.head_proj = nn.Linear(dim, d_cat, bias=False)
        self.ssm = DirectionalSSM(self.d_head, d_state, dt_rank=math.ceil(self.d_head / 16),
                                  num_directions=self.scan.num_directions, backend=backend, float32_output=True)
        self.cat_norm = nn.LayerNorm(d_cat) if with_proj else nn.Identity()
        self.y_proj = nn.Linear(d_cat, dim, bias=False) if with_proj else nn.Identity()
        self.out_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        in_dtype = x.dtype
        x, z = self.in_proj(x).chunk(2, dim=-1)
        x = self.act(self.conv(x.permute(0, 3, 1, 2)))
        x = self.head_proj(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        y = self.scan(x, self.ssm).permute(0, 2, 3, 1).to(in_dtype)
        y = self.out_norm(self.y_proj(self.cat_norm(y)))
        return self.dropout(y * F.silu(z))


class MHSBlock(nn.Module):
    """``x + drop_path(MHSMixer(LN(x)))`` on NHWC tensors (key names as VSSBlock: norm1, mixer)."""

    def __init__(self, dim: int, drop_path: float = 0.0, **mixer_kwargs):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.mixer = MHSMixer(dim, **mixer_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mixer(self.norm1(x)))


def mhs_block_factory(**mixer_kwargs):
    """(dim, drop_path) → MHSBlock, for :class:`visionssm.medical.vm_unet.VMUNet`'s ``block_fn``."""
    def make(dim: int, drop_path: float) -> nn.Module:
        return MHSBlock(dim, drop_path, **mixer_kwargs)
    return make
