"""MSVMamba MS2D multi-scale scan: one full-resolution row scan plus three scans of a half-resolution map.

The released MSVMamba models (master branch, ``multiscale_4scan_12``, ``ms_split=[1, 3]``) spend most of
the scan on a stride-2 map, cutting its cost while keeping four scan routes. The strategy owns the
half-resolution branch, a depthwise 7×7 stride-2 conv + SiLU applied to the mixer's pre-conv activation.

Direction (parameter set) 0 is the half-resolution branch: its three orders [row-major reversed |
column-major | column-major reversed] are concatenated into ONE sequence of length 3·h'·w', so the
hidden state carries across segment boundaries, exactly as the official code scans it. Direction 1 is
the full-resolution row-major scan. The half-resolution output is summed over its three segments,
upsampled bilinearly (``align_corners=False``) and added to the full-resolution output. The official
model layer-normalises each branch output before this combination; pass that norm as ``norm``.
"""
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .base import ScanStrategy
from .registry import register_scan


def half_resolution_size(H: int, W: int) -> Tuple[int, int]:
    """Output size of the 7×7 stride-2 padding-3 conv: (ceil(H/2), ceil(W/2))."""
    return (H + 1) // 2, (W + 1) // 2


def multiscale_orders(H: int, W: int) -> torch.Tensor:
    """(2, L) orders for an H×W input, L = max(3·h'·w', H·W), -1 padded at the end.

    Row 0 indexes the HALF-RESOLUTION grid (h', w') = ``half_resolution_size(H, W)`` (index i·w' + j):
    [row-major reversed | column-major | column-major reversed]. Row 1 is the full-resolution row-major order.
    """
    h, w = half_resolution_size(H, W)
    grid = torch.arange(h * w).view(h, w)
    rows, cols = grid.flatten(), grid.t().flatten()
    half = torch.cat([rows.flip(0), cols, cols.flip(0)])
    full = torch.arange(H * W)
    L = max(half.numel(), full.numel())
    out = torch.full((2, L), -1, dtype=torch.long)
    out[0, : half.numel()] = half
    out[1, : full.numel()] = full
    return out


@register_scan("multiscale")
class MultiScaleScan(ScanStrategy):
    """MS2D: direction 0 = 3 concatenated half-resolution orders, direction 1 = full-resolution row-major.

    Args:
        d_inner: channels of the scanned map (the SSM's d_inner); the strategy owns a depthwise conv on them.
        kernel_size, stride: of the downsampling depthwise conv (official: 7, 2).
        conv_bias: bias of that conv (official: True).
    """

    num_directions = 2
    merge_mode = "sum"
    wants_raw_input = True  # the half-res branch convolves the mixer's pre-conv activation
    applies_out_norm = True  # each branch is normalised before the branches are combined

    def __init__(self, d_inner: Optional[int] = None, kernel_size: int = 7, stride: int = 2, conv_bias: bool = True):
        super().__init__()
        if d_inner is None:
            raise ValueError("the 'multiscale' scan owns a depthwise conv and needs its channel count: "
                             "build_scan('multiscale', d_inner=...)")
        if stride != 2 or kernel_size % 2 != 1:
            raise ValueError(f"multiscale supports an odd kernel with stride 2, got kernel_size={kernel_size}, "
                             f"stride={stride}")
        self.d_inner = d_inner
        self.conv = nn.Conv2d(d_inner, d_inner, kernel_size, stride=stride, padding=kernel_size // 2,
                              groups=d_inner, bias=conv_bias)
        self.act = nn.SiLU()

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        return multiscale_orders(H, W)

    def direction_grid(self, H: int, W: int, k: int) -> Tuple[int, int]:
        """Direction 0's raster indices refer to the half-resolution grid, direction 1's to H×W."""
        return half_resolution_size(H, W) if k == 0 else (H, W)

    def _half_order(self, H: int, W: int, device) -> torch.Tensor:
        h, w = half_resolution_size(H, W)
        return self.token_orders(H, W, device)[0, : 3 * h * w]

    def scan(self, x: torch.Tensor, raw: Optional[torch.Tensor] = None):
        """x (B, C, H, W) → (half (B, 1, C, 3·h'·w'), full (B, 1, C, H·W)); ``raw`` feeds the half-res conv."""
        H, W = x.shape[-2:]
        half = self.act(self.conv(x if raw is None else raw))
        half = half.flatten(2)[:, :, self._half_order(H, W, x.device)]
        return half.unsqueeze(1), x.flatten(2).unsqueeze(1)

    def merge(self, ys, H: int, W: int) -> torch.Tensor:
        """(y_half (B, 1, C, 3·h'·w'), y_full (B, 1, C, H·W)) → (B, C, H, W)."""
        y_half, y_full = ys
        Bsz, _, C, _ = y_half.shape
        h, w = half_resolution_size(H, W)
        out = y_half.new_zeros(Bsz, C, h * w)
        order = self._half_order(H, W, y_half.device)
        if torch.jit.is_tracing():  # the ONNX tracer's index_add keeps one of the repeated indices: scatter-add instead
            out = out.scatter_add(2, order.view(1, 1, -1).expand(Bsz, C, -1), y_half[:, 0])
        else:
            out.index_add_(2, order, y_half[:, 0])
        up = F.interpolate(out.view(Bsz, C, h, w), size=(H, W), mode="bilinear", align_corners=False)
        return y_full[:, 0].reshape(Bsz, C, H, W) + up

    def forward(self, x: torch.Tensor, ssm: nn.Module, raw: Optional[torch.Tensor] = None,
                norm: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
        """Scan both branches with ``ssm`` (K=2); ``norm`` (channel-last, e.g. LayerNorm) is applied per branch."""
        H, W = x.shape[-2:]
        xs_half, xs_full = self.scan(x, raw)
        y_half = ssm(xs_half, directions=slice(0, 1))
        y_full = ssm(xs_full, directions=slice(1, 2))
        if norm is not None:
            y_half, y_full = (norm(y.transpose(-1, -2)).transpose(-1, -2) for y in (y_half, y_full))
        return self.merge((y_half, y_full), H, W)

    def extra_repr(self) -> str:
        return f"name={self.scan_name!r}, d_inner={self.d_inner}, directions=2 (0: half-res x3 orders, 1: full-res)"
