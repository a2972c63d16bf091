"""Base class of scan strategies: token orders as cached index tensors, vectorised gather and merge.

A strategy turns a (B, C, H, W) map into K token sequences, lets a per-direction selective SSM run on
them, and merges the K outputs back into (B, C, H, W). Permutation strategies only describe their
orders (``build_orders``); gathering and merging are shared here and never loop over tokens.
"""
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import nn


class _OrderIndex(NamedTuple):
    """Everything derived from one (H, W, device) order tensor, built once (no per-call device syncs)."""

    orders: torch.Tensor  # (K, L) raster indices, -1 = padding
    gather: torch.Tensor  # (K·L,) raster indices with padding → H·W (a zero slot appended to the map)
    inverse: torch.Tensor  # (K, H·W) step of each pixel per direction; L (a zero slot) where never visited
    has_padding: bool


class ScanStrategy(nn.Module):
    """A token-ordering strategy.

    Subclasses set ``num_directions`` (K, the number of per-direction parameter sets the SSM needs)
    and implement ``build_orders(H, W)``; they may override ``scan``/``merge``/``forward`` when the
    strategy is more than a permutation (multi-scale, state fusion, ...).

    ``merge_mode``: "sum" (VMamba), "mean" (Vim) or "scatter" (each pixel written by exactly one
    direction, EfficientVMamba).
    """

    scan_name = "base"
    kind = "scan"  # "scan": orders tokens for DirectionalSSM; "mixer": a whole token mixer (non-causal SSD)
    num_directions = 1
    merge_mode = "sum"

    def __init__(self):
        super().__init__()
        self._order_cache: Dict[Tuple[int, int, str], torch.Tensor] = {}
        self._index_cache: Dict[Tuple[int, int, str], _OrderIndex] = {}

    # -- orders -------------------------------------------------------------------------------
    def build_orders(self, H: int, W: int) -> torch.Tensor:
        """LongTensor (K, L_k) of raster indices h·W + w visited at each step; -1 marks padding."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_orders(H, W)")

    def token_orders(self, H: int, W: int, device=None) -> torch.Tensor:
        """Cached ``build_orders`` on ``device``: built once per (H, W, device)."""
        device = torch.device(device or "cpu")
        key = (H, W, str(device))
        orders = self._order_cache.get(key)
        if orders is None:
            orders = self.build_orders(H, W).to(device=device, dtype=torch.long)
            self._order_cache[key] = orders
        return orders

    def segment_lengths(self, H: int, W: int) -> Optional[List[int]]:
        """Length of the independent sequences each direction is cut into (None: one sequence per direction).

        Only strategies that run many short scans (e.g. ``cascade``: one per row) return lengths; the
        visualiser uses them so that it does not draw a path across sequence boundaries.
        """
        return None

    def direction_grid(self, H: int, W: int, k: int) -> Tuple[int, int]:
        """Grid (rows, cols) that direction k's raster indices refer to: (H, W) unless a strategy scans a
        resized map (MSVMamba's half-resolution branch) and says so here."""
        return H, W

    def ssm_channels(self, d_inner: int) -> int:
        """Channels per direction the layer must build its ``DirectionalSSM`` with (multi-head scans split them)."""
        return d_inner

    def _index(self, H: int, W: int, device) -> _OrderIndex:
        device = torch.device(device or "cpu")
        key = (H, W, str(device))
        idx = self._index_cache.get(key)
        if idx is None:
            orders = self.token_orders(H, W, device)
            K, L = orders.shape
            cpu = orders.cpu()
            valid = cpu >= 0
            gather = torch.where(valid, cpu, torch.full_like(cpu, H * W))
            inverse = torch.full((K, H * W), L, dtype=torch.long)
            steps = torch.arange(L).expand(K, L)
            rows = torch.arange(K).unsqueeze(1).expand(K, L)
            inverse[rows[valid], cpu[valid]] = steps[valid]
            idx = _OrderIndex(orders, gather.reshape(-1).to(device), inverse.to(device), bool((~valid).any()))
            self._index_cache[key] = idx
        return idx

    # -- gather / merge -------------------------------------------------------------------------
    def fast_scan(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        """Optional shortcut with exactly ``scan``'s result (e.g. strided copies for raster orders); None = use the
        index gather. Kept separate from ``scan`` so that the strategy still counts as a pure permutation."""
        return None

    def fast_merge(self, y: torch.Tensor, H: int, W: int) -> Optional[torch.Tensor]:
        """Optional shortcut with ``merge``'s result (up to float summation order); None = use the index merge."""
        return None

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, K, C, L): tokens in each direction's order (padding reads zeros)."""
        xs = self.fast_scan(x)
        if xs is not None:
            return xs
        Bsz, C, H, W = x.shape
        idx = self._index(H, W, x.device)
        K, L = idx.orders.shape
        flat = x.reshape(Bsz, C, H * W)
        if idx.has_padding:
            flat = torch.cat([flat, flat.new_zeros(Bsz, C, 1)], dim=2)
        return flat.index_select(2, idx.gather).view(Bsz, C, K, L).transpose(1, 2)

    def merge(self, y: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """(B, K, C, L) → (B, C, H, W) by ``merge_mode``; padded steps are dropped."""
        out = self.fast_merge(y, H, W)
        if out is not None:
            return out
        Bsz, K, C, L = y.shape
        idx = self._index(H, W, y.device)
        out = y.new_zeros(Bsz, C, H * W + int(idx.has_padding))
        src = y.transpose(1, 2).reshape(Bsz, C, K * L)
        if torch.jit.is_tracing():  # the ONNX tracer's index_add keeps one of the repeated indices: scatter-add instead
            out = out.scatter_add(2, idx.gather.view(1, 1, -1).expand(Bsz, C, -1), src)
        else:
            out.index_add_(2, idx.gather, src)
        if idx.has_padding:
            out = out[:, :, : H * W]
        if self.merge_mode == "mean":
            out = out / K
        return out.view(Bsz, C, H, W)

    def unscan(self, y: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """(B, K, C, L) → (B, K, C, H·W): each direction put back in raster order, not merged.

        For merges that weigh directions against each other (MHS-VM's gated fusion); pixels a direction
        never visits read zero.
        """
        idx = self._index(H, W, y.device)
        y = torch.cat([y, y.new_zeros(*y.shape[:3], 1)], dim=3)
        inverse = idx.inverse[None, :, None, :].expand(*y.shape[:3], idx.inverse.shape[1])
        return torch.gather(y, 3, inverse)  # take_along_dim also wraps negative indices: 3.7x slower on CPU

    def forward(self, x: torch.Tensor, ssm: nn.Module) -> torch.Tensor:
        """Run ``ssm`` (a ``DirectionalSSM`` with K = ``num_directions``) along this strategy's orders."""
        H, W = x.shape[-2:]
        return self.merge(ssm(self.scan(x)), H, W)

    def extra_repr(self) -> str:
        return f"name={self.scan_name!r}, directions={self.num_directions}, merge={self.merge_mode!r}"
