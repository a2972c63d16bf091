"""Vim's token mixer: a Mamba layer that scans one token sequence along K orders from a scan strategy.

Vision Mamba ("bimamba v2") shares ``in_proj`` (→ x, z) and ``out_proj`` between its directions and gives
each direction its own causal depthwise conv1d, x_proj, dt_proj, A_log and D. Each direction runs
conv1d → SiLU → selective scan gated by silu(z) *inside* the op, on its own ordering of the sequence
(x and z reordered together); the outputs go back to sequence order and are merged (Vim: mean of the
forward and the reversed scan). The orders come from the scan registry, so the same layer runs Vim's
``bidirectional`` scan or any other permutation strategy (``cross``, ``hilbert``, ...): a class token
that is not on the grid is placed by :func:`visionssm.scans.bidirectional.sequence_orders`.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from timm.layers import register_notrace_module
from torch import nn

from visionssm.kernels import selective_scan
from visionssm.scans import ScanStrategy, get_scan
from visionssm.scans.base import index_constant, store_index
from visionssm.scans.bidirectional import token_sequence_orders

from .ssm import DirectionalSSM, resolve_dt_rank


def check_permutation_scan(strategy: ScanStrategy) -> ScanStrategy:
    """A sequence mixer can only use strategies that are pure token permutations of one grid."""
    cls = type(strategy)
    if cls.scan is not ScanStrategy.scan or cls.merge is not ScanStrategy.merge or cls.forward is not ScanStrategy.forward:
        raise ValueError(f"scan {strategy.scan_name!r} does more than permute tokens (it overrides scan/merge/forward), "
                         f"so it cannot drive a sequence mixer; use a permutation scan such as 'bidirectional', "
                         f"'cross' or 'hilbert'.")
    return strategy


@register_notrace_module  # a leaf for torch.fx: its cached indices need concrete grid and sequence sizes
class MambaSequenceMixer(nn.Module):
    """Mamba mixer over (B, T, C) tokens with one parameter set per scan direction (Vim's bimamba v2).

    Args:
        dim: model width C. d_state: N. d_conv: causal conv1d width. expand: d_inner = expand·C.
        dt_rank: "auto" = ceil(C / 16). scan: registered permutation strategy or instance (K directions).
        conv_bias, bias: biases of conv1d and of in_proj/out_proj (Vim: True, False).
        backend: selective-scan backend.
    """

    def __init__(
            self,
            dim: int,
            d_state: int = 16,
            d_conv: int = 4,
            expand: float = 2,
            dt_rank="auto",
            scan="bidirectional",
            conv_bias: bool = True,
            bias: bool = False,
            backend: str = "auto",
    ):
        super().__init__()
        self.scan = check_permutation_scan(get_scan(scan))
        K = self.num_directions = self.scan.num_directions
        self.d_inner = d_inner = int(expand * dim)
        self.d_conv = d_conv
        self.backend = backend
        self.in_proj = nn.Linear(dim, 2 * d_inner, bias=bias)
        # the K per-direction depthwise convs as one grouped conv over K·d_inner channels
        self.conv1d = nn.Conv1d(K * d_inner, K * d_inner, d_conv, groups=K * d_inner, padding=d_conv - 1,
                                bias=conv_bias)
        self.ssm = DirectionalSSM(d_inner, d_state, resolve_dt_rank(dt_rank, dim), num_directions=K, backend=backend)
        self.out_proj = nn.Linear(d_inner, dim, bias=bias)
        self._index_cache: Dict[tuple, tuple] = {}

    @index_constant
    def _index(self, H: int, W: int, T: int, extra_position: Optional[int], device):
        """Orders, gather/scatter indices and merge scale for one grid, built once (no per-call device syncs)."""
        key = (H, W, T, extra_position, str(device))
        cached = self._index_cache.get(key)
        if cached is None:
            orders = token_sequence_orders(self.scan, H, W, extra_position, device)  # (K, L) sequence indices
            has_padding = bool((orders < 0).any())
            index = torch.where(orders < 0, torch.full_like(orders, T), orders)  # padding → a zero/dropped slot
            mode = self.scan.merge_mode
            if mode == "sum":
                scale = None
            elif mode == "mean":
                scale = torch.full((T,), 1.0 / orders.shape[0], device=device)
            else:  # "scatter": a token visited by several directions (the class token) is averaged
                counts = torch.bincount(orders[orders >= 0].flatten(), minlength=T).clamp(min=1)
                scale = 1.0 / counts.float()
            cached = store_index(self._index_cache, key, (orders.shape[1], has_padding, index, scale))
        return cached

    def forward(self, x: torch.Tensor, grid: Tuple[int, int], extra_position: Optional[int] = None) -> torch.Tensor:
        """x (B, T, C): the H×W grid tokens in raster order, plus one extra token at ``extra_position``."""
        Bsz, T, _ = x.shape
        H, W = grid
        K, d = self.num_directions, self.d_inner
        L, has_padding, index, scale = self._index(H, W, T, extra_position, x.device)
        xz = self.in_proj(x)
        if has_padding:  # padded steps read a zero token
            xz = torch.cat([xz, xz.new_zeros(Bsz, 1, xz.shape[-1])], dim=1)
        xz = xz[:, index.reshape(-1)].view(Bsz, K, L, 2 * d).permute(0, 1, 3, 2)  # (B, K, 2d, L)
        xs, z = xz.chunk(2, dim=2)
        xs = self.conv1d(xs.reshape(Bsz, K * d, L))[..., :L]
        xs = F.silu(xs)
        delta, Bs, Cs = self.ssm.project(xs.view(Bsz, K, d, L))
        A = -torch.exp(self.ssm.A_logs.float())
        y = selective_scan(xs, delta, A, Bs, Cs, self.ssm.Ds.float(), z.reshape(Bsz, K * d, L),
                           self.ssm.dt_projs_bias.reshape(-1).float(), True, backend=self.backend)
        # back to sequence order: sum the K directions per token, then scale by the merge rule
        out = y.new_zeros(Bsz, d, T + 1)
        src = y.view(Bsz, K, d, L).permute(0, 2, 1, 3).reshape(Bsz, d, K * L)
        if torch.jit.is_tracing():  # the ONNX tracer's index_add keeps one of the repeated indices: scatter-add instead
            out = out.scatter_add(2, index.reshape(1, 1, -1).expand(Bsz, d, -1), src)
        else:
            out.index_add_(2, index.reshape(-1), src)
        out = out[:, :, :T]
        if scale is not None:
            out = out * scale.to(out.dtype)
        return self.out_proj(out.transpose(1, 2))

    def extra_repr(self) -> str:
        return f"d_inner={self.d_inner}, d_conv={self.d_conv}, directions={self.num_directions}"


class MambaBlock(nn.Module):
    """Vim's "add → norm → mixer" block written pre-norm: x ← x + drop_path(mixer(norm(x))).

    The residual stream stays in float32 (``residual_in_fp32``) whatever the mixer's dtype, as in Vim.
    The official block adds the previous block's output before its norm; summing the same terms in
    this order gives the same values, and stochastic depth drops the same branches.
    """

    def __init__(self, dim: int, mixer: nn.Module, norm_layer=nn.LayerNorm, drop_path: nn.Module = None,
                 residual_in_fp32: bool = True):
        super().__init__()
        self.norm = norm_layer(dim)
        self.mixer = mixer
        self.drop_path = drop_path if drop_path is not None else nn.Identity()
        self.residual_in_fp32 = residual_in_fp32

    def forward(self, x: torch.Tensor, grid: Tuple[int, int], extra_position: Optional[int] = None) -> torch.Tensor:
        residual = x.float() if self.residual_in_fp32 else x
        hidden = self.mixer(self.norm(x.to(self.norm.weight.dtype)), grid, extra_position)
        return residual + self.drop_path(hidden)
