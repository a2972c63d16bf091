"""Zigzag (snake / boustrophedon) scan: continuous paths, so consecutive tokens are always grid neighbours.

Order of the K = 4 directions as PlainMamba's ``get_permute_order`` and MHS-VM's "C" head:
k0 row snake from the top-left, k1 = reverse(k0), k2 column snake from the top-left, k3 = reverse(k2).
Merge = sum (PlainMamba sums its four outputs). PlainMamba's learned per-step direction embeddings
(``direction_Bs``) are a model feature, not part of the order, and are not included here.
"""
import torch

from . import orders
from .base import ScanStrategy
from .registry import register_scan


@register_scan("zigzag")
class ZigzagScan(ScanStrategy):
    num_directions = 4

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        rows, cols = orders.row_snake(H, W), orders.column_snake(H, W)
        return torch.stack([rows, rows.flip(0), cols, cols.flip(0)])
