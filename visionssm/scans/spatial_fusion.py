"""Spatial-Mamba structure-aware state fusion (SASF): one row-major scan, hidden states fused in 2D.

The scan returns every hidden state h_t (the op with ``C=None``); the states are put back on the grid
and mixed by depthwise 3×3 convolutions with dilations 1, 3, 5 (replicate padding), weighted by
``alpha``; only then are they contracted with C and is D·u added::

    h' = Σ_i alpha_i · DWConv3×3_{dilation r_i}(pad_replicate(h, r_i)),   y = <h', C> + D·u

The official code runs the three convolutions while training and, in eval mode, one 11×11 depthwise
kernel that holds all taps (the same maths: replicate padding clamps indices either way). It caches
that kernel at the first eval forward and never refreshes it, so weights loaded afterwards are
silently ignored. Here the merged kernel is rebuilt from the current parameters on every call
(d·121 numbers, microseconds), so there is no cache to go stale.
"""
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import ScanStrategy
from .registry import register_scan

FUSIONS = ("auto", "dilated", "merged")


def dilate_kernel(kernel: torch.Tensor, dilation: int, size: int) -> torch.Tensor:
    """(C, 1, k, k) kernel → the equivalent undilated (C, 1, size, size) kernel, taps centred."""
    channels, _, k, _ = kernel.shape
    span = dilation * (k - 1) + 1
    if span > size or (size - span) % 2:
        raise ValueError(f"a {k}×{k} kernel with dilation {dilation} spans {span} pixels; it does not centre "
                         f"in a {size}×{size} kernel")
    out = kernel.new_zeros(channels, 1, span, span)
    out[:, :, ::dilation, ::dilation] = kernel
    margin = (size - span) // 2
    return F.pad(out, (margin,) * 4)


@register_scan("spatial_fusion")
class SpatialFusionScan(ScanStrategy):
    """Row-major scan (K = 1) whose hidden states are fused by weighted dilated depthwise convolutions.

    Args:
        d_inner: channels of the scanned map (the SSM's d_inner); the fusion kernels are per channel and
            shared by the N states of a channel (the official model only has N = 1).
        dilations: one depthwise kernel per dilation (official: 1, 3, 5).
        kernel_size: side of each kernel (official: 3).
        fusion: "dilated" runs one convolution per dilation, "merged" one convolution with all taps in a
            single kernel (4× faster on CPU in eval), "auto" uses "dilated" when gradients flow (as the
            official training branch does) and "merged" otherwise. All give the same result to float
            rounding.
    """

    num_directions = 1
    merge_mode = "sum"

    def __init__(self, d_inner: int, dilations: Sequence[int] = (1, 3, 5), kernel_size: int = 3,
                 fusion: str = "auto"):
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"spatial_fusion: unknown fusion {fusion!r}; choose one of {FUSIONS}")
        if kernel_size % 2 != 1:
            raise ValueError(f"spatial_fusion: kernel_size must be odd, got {kernel_size}")
        self.d_inner = d_inner
        self.dilations = tuple(int(r) for r in dilations)
        self.kernel_size = kernel_size
        self.fusion = fusion
        self.kernels = nn.Parameter(torch.ones(len(self.dilations), d_inner, 1, kernel_size, kernel_size))
        self.alpha = nn.Parameter(torch.ones(len(self.dilations)))

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        return torch.arange(H * W).unsqueeze(0)

    # -- fusion ---------------------------------------------------------------------------------
    @property
    def merged_size(self) -> int:
        return max(self.dilations) * (self.kernel_size - 1) + 1

    def merged_kernel(self) -> torch.Tensor:
        """(d_inner, 1, S, S) single kernel equal to Σ alpha_i · dilate(kernel_i), S = 11 for the official setup."""
        size = self.merged_size
        return sum(a * dilate_kernel(k, r, size) for a, k, r in zip(self.alpha, self.kernels, self.dilations))

    def fuse(self, h: torch.Tensor, fusion: Optional[str] = None) -> torch.Tensor:
        """Fuse state maps h (B', d_inner, H, W) with replicate padding; same shape out."""
        fusion = fusion or self.fusion
        if fusion == "auto":
            # tracing (ONNX export): the merged kernel is built by in-place writes the tracer cannot size
            fusion = "dilated" if (torch.is_grad_enabled() and self.training) or torch.jit.is_tracing() else "merged"
        half = self.kernel_size // 2
        if fusion == "merged":
            pad = half * max(self.dilations)
            weight = self.merged_kernel().to(h.dtype)
            return F.conv2d(F.pad(h, (pad,) * 4, mode="replicate"), weight, groups=self.d_inner)
        out = 0
        for a, k, r in zip(self.alpha, self.kernels, self.dilations):
            hp = F.pad(h, (half * r,) * 4, mode="replicate")
            out = out + a.to(h.dtype) * F.conv2d(hp, k.to(h.dtype), dilation=r, groups=self.d_inner)
        return out

    # -- the strategy -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, ssm: nn.Module, raw: Optional[torch.Tensor] = None,
                norm: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
        """x (B, d_inner, H, W) → y (B, d_inner, H, W) = <fuse(h), C> + D·x, with h from one row-major scan."""
        Bsz, channels, H, W = x.shape
        if getattr(ssm, "num_directions", 1) != 1:
            raise ValueError(f"spatial_fusion scans one direction but the SSM has {ssm.num_directions} parameter "
                             f"sets; build it with num_directions=1")
        if channels != self.d_inner:
            raise ValueError(f"spatial_fusion was built for d_inner={self.d_inner} but got {channels} channels")
        u = x.flatten(2)  # row-major order is the raster order itself: no gather needed
        states, Cs = ssm(u.unsqueeze(1), return_states=True)  # (B, C, N, L), (B, 1, N, L)
        N = states.shape[2]
        h = self.fuse(states.transpose(1, 2).reshape(Bsz * N, channels, H, W))
        h = h.view(Bsz, N, channels, H * W)
        y = (h * Cs[:, 0].unsqueeze(2).to(h.dtype)).sum(1)
        y = y + u.to(y.dtype) * ssm.Ds.to(y.dtype).view(-1, 1)
        return y.view(Bsz, channels, H, W)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, d_inner={self.d_inner}, dilations={self.dilations}, "
                f"kernel_size={self.kernel_size}, fusion={self.fusion!r}")
