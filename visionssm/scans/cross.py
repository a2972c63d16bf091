"""VMamba SS2D cross-scan and its other ``forward_type`` modes (``v051d`` unidirectional, ``v052d`` bidirectional),
plus the single raster scan of plain Mamba U-Nets.

All three share VMamba's ``cross_scan_fn`` / ``cross_merge_fn`` (``scans=0/1/2``): K = 4 directions,
merge = plain sum, no per-direction weights.
"""
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


@register_scan("raster")
class RasterScan(ScanStrategy):
    """One causal row-major scan (K = 1): plain Mamba on the flattened grid (LightM-UNet, U-Mamba)."""

    num_directions = 1

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        return torch.arange(H * W)[None]


@register_scan("unidirectional")
class UnidirectionalScan(ScanStrategy):
    """VMamba ``v051d`` (``scans=1``): four copies of row-major, each with its own parameters, summed."""

    num_directions = 4

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        return torch.arange(H * W).expand(4, H * W).clone()


@register_scan("bidirectional_2d")
class Bidirectional2DScan(ScanStrategy):
    """VMamba ``v052d`` (``scans=2``): k0 = k1 = row-major, k2 = k3 = reversed row-major, summed."""

    num_directions = 4

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        row = torch.arange(H * W)
        return torch.stack([row, row, row.flip(0), row.flip(0)])
