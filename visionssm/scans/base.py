"""Base class of scan strategies: token orders as cached index tensors, vectorised gather and merge.

A strategy turns a (B, C, H, W) map into K token sequences, lets a per-direction selective SSM run on
them, and merges the K outputs back into (B, C, H, W). Permutation strategies only describe their
orders (``build_orders``); gathering and merging are shared here and never loop over tokens.
"""
from typing import Dict, Tuple

import torch
from torch import nn


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

    # -- gather / merge -------------------------------------------------------------------------
    def scan(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, K, C, L): tokens in each direction's order (padding reads zeros)."""
        Bsz, C, H, W = x.shape
        orders = self.token_orders(H, W, x.device)
        flat = x.flatten(2)
        if bool((orders < 0).any()):
            flat = torch.cat([flat, flat.new_zeros(Bsz, C, 1)], dim=2)
            orders = torch.where(orders < 0, torch.full_like(orders, H * W), orders)
        return flat[:, :, orders].permute(0, 2, 1, 3)

    def merge(self, y: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """(B, K, C, L) → (B, C, H, W) by ``merge_mode``; padded steps are dropped."""
        Bsz, K, C, L = y.shape
        orders = self.token_orders(H, W, y.device)
        valid = orders >= 0
        index = torch.where(valid, orders, torch.full_like(orders, H * W))  # padding lands in a dropped slot
        out = y.new_zeros(Bsz, C, H * W + 1)
        out.index_add_(2, index.reshape(-1), y.permute(0, 2, 1, 3).reshape(Bsz, C, K * L))
        out = out[:, :, : H * W]
        if self.merge_mode == "mean":
            out = out / K
        return out.view(Bsz, C, H, W)

    def forward(self, x: torch.Tensor, ssm: nn.Module) -> torch.Tensor:
        """Run ``ssm`` (a ``DirectionalSSM`` with K = ``num_directions``) along this strategy's orders."""
        H, W = x.shape[-2:]
        return self.merge(ssm(self.scan(x)), H, W)

    def extra_repr(self) -> str:
        return f"name={self.scan_name!r}, directions={self.num_directions}, merge={self.merge_mode!r}"
