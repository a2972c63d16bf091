"""Snake (zig-zag) scans with per-step move codes: PlainMamba's four routes and SCSegamba's diagonal variant.

The orders are continuous paths over the grid. Each strategy also says, for every step t of every route,
which move led to it (``direction_codes``: 0 = start, 1 = right, 2 = left, 3 = up, 4 = down). PlainMamba
learns one bias vector per code and adds it to B at that step ("direction-aware updating"); families without
such a parameter use the strategies as plain permutations (``scan='snake'``), merged by summation.
"""
from typing import Dict, Tuple

import torch

from . import orders
from .base import ScanStrategy
from .registry import register_scan

START, RIGHT, LEFT, UP, DOWN = 0, 1, 2, 3, 4
NUM_CODES = 5


def move_codes(order: torch.Tensor, W: int) -> torch.Tensor:
    """(K, L) raster orders → (K, L) code of the move into each step (0 at step 0).

    A move to a grid neighbour gets its direction; a jump (a raster order's line wrap) is named by its row
    change when the row changes (down / up), else by its column change.
    """
    order = order.long()
    dr = order[:, 1:] // W - order[:, :-1] // W
    dc = order[:, 1:] % W - order[:, :-1] % W
    codes = torch.where(dr > 0, DOWN, torch.where(dr < 0, UP, torch.where(dc < 0, LEFT, RIGHT)))
    return torch.cat([torch.full_like(order[:, :1], START), codes], dim=1)


class _CodedScan(ScanStrategy):
    """A permutation scan that also provides per-step direction codes, cached per (H, W, device)."""

    num_directions = 4

    def __init__(self):
        super().__init__()
        self._code_cache: Dict[Tuple[int, int, str], torch.Tensor] = {}

    def build_codes(self, H: int, W: int) -> torch.Tensor:
        return move_codes(self.build_orders(H, W), W)

    def direction_codes(self, H: int, W: int, device=None) -> torch.Tensor:
        """LongTensor (K, H·W): the move code of each scan step, built once per (H, W, device)."""
        device = torch.device(device or "cpu")
        key = (H, W, str(device))
        codes = self._code_cache.get(key)
        if codes is None:
            codes = self.build_codes(H, W).to(device=device, dtype=torch.long)
            self._code_cache[key] = codes
        return codes


@register_scan("snake")
class SnakeScan(_CodedScan):
    """PlainMamba's four zig-zag routes (``get_permute_order``):

    k0 row snake from the top-left (right first), k1 the same path walked backwards (it starts in the bottom
    row, at the end k0 reached), k2 column snake from the top-left (down first), k3 = k2 walked backwards.
    """

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        rows, cols = orders.row_snake(H, W), orders.column_snake(H, W)
        return torch.stack([rows, rows.flip(0), cols, cols.flip(0)])


def _scsegamba_diagonal(H: int, W: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """SCSegamba's diagonal route and its codes: anti-diagonals k = i + j in order; on even k from the top row
    downwards (i ascending), on odd k from the left column upwards (j ascending). Its codes mark the first token of
    a diagonal that starts in the top row (even k) as 'right' and every other even-k token as 'down'; on odd k,
    the token in column 0 is 'down' and the others 'right' (then shifted by one step, 0 first)."""
    i = torch.arange(H).view(H, 1).expand(H, W).flatten()
    j = torch.arange(W).view(1, W).expand(H, W).flatten()
    k = i + j
    even = k % 2 == 0
    key = k * (H + W) + torch.where(even, i, j)
    perm = torch.argsort(key)
    code = torch.where(even, torch.where(i == 0, RIGHT, DOWN), torch.where(j == 0, DOWN, RIGHT))[perm]
    code = torch.cat([code.new_tensor([START]), code[:-1]])
    return (i * W + j)[perm], code


@register_scan("diagonal_snake")
class DiagonalSnakeScan(_CodedScan):
    """SCSegamba's structure-aware scan (SAVSS ``sass``): two parallel snakes and two diagonal snakes.

    k0 row snake from the bottom row upwards (PlainMamba's k1), k1 column snake from the top-left (PlainMamba's
    k2), k2 anti-diagonal zig-zag from the top-left, k3 the same route mirrored left↔right. Codes of the
    diagonal routes follow SCSegamba's rule (they are not grid moves). Merging uses the true inverse of every
    route (the official code scatters the third route's outputs with a wrong inverse index).
    """

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        rows, cols = orders.row_snake(H, W), orders.column_snake(H, W)
        diag, _ = _scsegamba_diagonal(H, W)
        return torch.stack([rows.flip(0), cols, diag, orders.mirror_columns(diag, H, W)])

    def build_codes(self, H: int, W: int) -> torch.Tensor:
        parallel = move_codes(self.build_orders(H, W)[:2], W)
        _, diag_codes = _scsegamba_diagonal(H, W)
        return torch.cat([parallel, diag_codes.expand(2, -1)])
