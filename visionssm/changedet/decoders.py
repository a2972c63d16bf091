"""ChangeMamba decoders, device-agnostic and scan-agnostic.

``ChangeDecoder``: at each of the four scales the two dates' features are arranged three ways and each
arrangement runs through a VSS block (VMamba's block with the configured scan):

- parallel: channel concatenation ``(B, 2C, H, W)``;
- cross: columns interleaved ``(B, C, H, 2W)``, pre on even columns, post on odd ones;
- sequential: side by side ``(B, C, H, 2W)``, pre on the left half, post on the right.

The interleaved and side-by-side outputs are split back to width W, so five maps are concatenated and fused
by a 1×1 conv + BN + ReLU; scales are merged top-down (upsample + add + residual smoothing), FPN style,
ending at the stride of the shallowest feature (4 for hierarchical backbones).
``SemanticDecoder``: the single-date version used by MambaSCD (per date) and MambaBDA (buildings).
"""
from typing import Any, Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from visionssm.scans import ScanSource

# VMamba v2 block settings ChangeMamba's decoders inherit from the encoder config (d_state 1, no z gate,
# conv without bias, MLP ratio 4, LN2d channels-first)
DEFAULT_BLOCK_KWARGS: Dict[str, Any] = {"d_state": 1, "ssm_ratio": 2.0, "dt_rank": "auto", "d_conv": 3,
                                        "conv_bias": False, "gate": "none", "mlp_ratio": 4.0}


class ResBlock(nn.Module):
    """3×3 conv-BN-ReLU, 3×3 conv-BN, identity shortcut, ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(out)) + x)


class VSSBlockFactory:
    """Builds the decoder's VSS blocks (NCHW) sharing one scan strategy instance where that is stateless."""

    def __init__(self, scan: Any = "cross", scan_kwargs: Optional[Dict[str, Any]] = None, drop_path: float = 0.1,
                 **block_kwargs):
        self.scans = ScanSource(scan, scan_kwargs)
        self.drop_path = drop_path
        self.block_kwargs = {**DEFAULT_BLOCK_KWARGS, **block_kwargs}

    def __call__(self, dim: int) -> nn.Module:
        from visionssm.models.vmamba import VSSBlock  # the one VSS block of the project (not a copy)

        kwargs = dict(self.block_kwargs)
        if isinstance(kwargs.get("act_layer"), str) or isinstance(kwargs.get("mlp_act_layer"), str):
            acts = {"silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU}
            for key in ("act_layer", "mlp_act_layer"):
                if isinstance(kwargs.get(key), str):
                    kwargs[key] = acts[kwargs[key].lower()]
        return VSSBlock(dim, channels_first=True, drop_path=self.drop_path, scan=self.scans(), **kwargs)


def _conv_block(in_ch: int, out_ch: int, make_block: VSSBlockFactory) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1), make_block(out_ch))


def interleave_columns(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) × 2 → (B, C, H, 2W) with ``a`` on even and ``b`` on odd columns."""
    return torch.stack([a, b], dim=-1).flatten(-2)


class SpatioTemporalFusion(nn.Module):
    """The three spatio-temporal arrangements of one scale, each through a VSS block, fused by a 1×1 conv."""

    def __init__(self, in_channels: int, channels: int, make_block: VSSBlockFactory):
        super().__init__()
        self.parallel = _conv_block(2 * in_channels, channels, make_block)
        self.cross = _conv_block(in_channels, channels, make_block)
        self.sequential = _conv_block(in_channels, channels, make_block)
        self.fuse = nn.Sequential(nn.Conv2d(5 * channels, channels, 1), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))

    def forward(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        W = pre.shape[-1]
        p_par = self.parallel(torch.cat([pre, post], dim=1))
        p_cross = self.cross(interleave_columns(pre, post))
        p_seq = self.sequential(torch.cat([pre, post], dim=-1))
        return self.fuse(torch.cat([p_par, p_cross[..., 0::2], p_cross[..., 1::2], p_seq[..., :W], p_seq[..., W:]], 1))


def _upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=False) + y


class ChangeDecoder(nn.Module):
    """Bi-temporal decoder: (pre features, post features), shallow → deep → (B, channels, H/4, W/4)."""

    def __init__(self, encoder_channels: Sequence[int], channels: int = 128, make_block: Optional[VSSBlockFactory] = None):
        super().__init__()
        make_block = make_block or VSSBlockFactory()
        self.fusions = nn.ModuleList(SpatioTemporalFusion(c, channels, make_block) for c in encoder_channels)
        self.smooth = nn.ModuleList(ResBlock(channels) for _ in encoder_channels[:-1])

    def forward(self, pre: Sequence[torch.Tensor], post: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(pre) != len(self.fusions) or len(post) != len(self.fusions):
            raise ValueError(f"ChangeDecoder built for {len(self.fusions)} scales got {len(pre)} and {len(post)} features")
        x = self.fusions[-1](pre[-1], post[-1])
        for i in range(len(pre) - 2, -1, -1):
            x = self.smooth[i](_upsample_add(x, self.fusions[i](pre[i], post[i])))
        return x


class SemanticDecoder(nn.Module):
    """Single-date decoder: a VSS block on the deepest scale, then top-down (1×1 lateral + add + ResBlock +
    VSS block) to the shallowest scale and a final ResBlock."""

    def __init__(self, encoder_channels: Sequence[int], channels: int = 128, make_block: Optional[VSSBlockFactory] = None):
        super().__init__()
        make_block = make_block or VSSBlockFactory()
        n = len(encoder_channels)
        self.top = _conv_block(encoder_channels[-1], channels, make_block)
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, channels, 1), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
            for c in encoder_channels[:-1])
        self.smooth = nn.ModuleList(ResBlock(channels) for _ in range(n - 1))
        self.blocks = nn.ModuleList(make_block(channels) for _ in range(n - 1))
        self.final = ResBlock(channels)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self.top(feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            x = self.blocks[i](self.smooth[i](_upsample_add(x, self.lateral[i](feats[i]))))
        return self.final(x)
