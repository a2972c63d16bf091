"""VMamba SS2D cross-scan: row-major, column-major, and both reversed; merge = sum."""
import torch

from .base import ScanStrategy
from .registry import register_scan


def raster_orders(H: int, W: int) -> torch.Tensor:
    """(2, H·W): row-major and column-major raster indices."""
    grid = torch.arange(H * W).view(H, W)
    return torch.stack([grid.flatten(), grid.t().flatten()])


@register_scan("cross")
class CrossScan(ScanStrategy):
    """k0 row-major, k1 column-major, k2 = flip(k0), k3 = flip(k1) (VMamba ``cross_scan_fn``)."""

    num_directions = 4

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        rows_cols = raster_orders(H, W)
        return torch.cat([rows_cols, rows_cols.flip(-1)])
