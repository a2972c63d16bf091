"""Vim's bidirectional scan: the raster sequence forward and reversed, one parameter set each, mean merge.

Vision Mamba (arXiv:2401.09417) flattens the patch grid row-major, inserts a class token in the middle
of the sequence, and runs two selective scans: one over the sequence, one over the reversed sequence
(class token included). The two outputs are averaged (its ``if_divide_out``: ``(y_f + flip(y_b)) / 2``).

Over the H×W grid the orders are ``[0, 1, ..., HW-1]`` and its reverse (K = 2). A token that is not on
the grid (Vim's class token) is placed with :func:`sequence_orders`, which also serves every other
permutation strategy, so a Vim model can run with any of them.
"""
from typing import Optional

import torch

from .base import ScanStrategy, index_constant, store_index
from .orders import raster
from .registry import register_scan


def sequence_orders(grid_orders: torch.Tensor, extra_position: Optional[int] = None) -> torch.Tensor:
    """Orders over a token sequence that holds the grid tokens plus one extra token (a class token).

    The sequence is the raster order with the extra token inserted at index ``extra_position``
    (Vim: M // 2): raster index r sits at r + (r >= extra_position), the extra token at
    ``extra_position``. Each direction of ``grid_orders`` (K, L), raster indices with -1 for padding,
    becomes a (K, L + 1) order over sequence indices. A direction that reverses an earlier direction
    reverses its whole sequence, extra token included (Vim flips the sequence with its class token);
    every other direction visits it at step ``extra_position`` (scaled by the share of the grid the
    direction visits, for strategies such as ``atrous``). Without an extra token the
    grid orders are returned unchanged (raster and sequence indices coincide).
    """
    if extra_position is None:
        return grid_orders
    K, L = grid_orders.shape
    M = int(grid_orders.max()) + 1  # grid tokens
    if not 0 <= extra_position <= M:
        raise ValueError(f"extra token position {extra_position} is outside a sequence of {M} grid tokens")
    shifted = torch.where(grid_orders >= extra_position, grid_orders + 1, grid_orders)
    shifted = torch.where(grid_orders < 0, grid_orders, shifted)
    rows = []
    for k in range(K):  # K ≤ 8 directions, built once per grid size
        mirror = next((j for j in range(k) if torch.equal(grid_orders[k], grid_orders[j].flip(0))), None)
        if mirror is not None:
            rows.append(rows[mirror].flip(0))
            continue
        # a direction that visits only part of the grid (atrous) meets the token at the same fraction
        step = extra_position * int((grid_orders[k] >= 0).sum()) // M
        extra = shifted.new_full((1,), extra_position)
        rows.append(torch.cat([shifted[k, :step], extra, shifted[k, step:]]))
    return torch.stack(rows)


@register_scan("bidirectional")
class BidirectionalScan(ScanStrategy):
    """k0 = raster order, k1 = its reverse; merge = mean (Vim's /2).

    ``extra_position`` places a class token (see :func:`sequence_orders`); Vim uses M // 2 for a grid
    of M tokens. Only ``token_sequence_orders`` needs it: grid orders never include the class token.
    """

    num_directions = 2
    merge_mode = "mean"

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        forward = raster(H, W)
        return torch.stack([forward, forward.flip(0)])


@index_constant
def token_sequence_orders(strategy: ScanStrategy, H: int, W: int, extra_position: Optional[int] = None,
                          device=None) -> torch.Tensor:
    """Cached :func:`sequence_orders` of any permutation strategy (built once per grid, position, device)."""
    cache = strategy.__dict__.setdefault("_sequence_order_cache", {})
    device = torch.device(device or "cpu")
    key = (H, W, extra_position, str(device))
    orders = cache.get(key)
    if orders is None:
        orders = store_index(cache, key, sequence_orders(strategy.build_orders(H, W).long(), extra_position).to(device))
    return orders
