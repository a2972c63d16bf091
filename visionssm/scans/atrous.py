"""EfficientVMamba ES2D atrous (skip-sampling) scan: four disjoint stride-2 sub-grids, scattered back.

Each direction sees a quarter of the pixels, so the scan costs L/4 per direction instead of L: that is the
point of EfficientVMamba. Orders follow the official ``EfficientScan`` (step 2): the map is zero-padded
bottom/right to even H, W; k0 = rows 0::2 / cols 0::2 row-major, k1 = rows 1::2 / cols 0::2 column-major,
k2 = rows 0::2 / cols 1::2 row-major, k3 = rows 1::2 / cols 1::2 column-major. Every pixel is written back by
exactly one direction and the padding is cropped.
"""
import torch

from .base import ScanStrategy
from .registry import register_scan


def atrous_orders(H: int, W: int) -> torch.Tensor:
    """(4, ceil(H/2)·ceil(W/2)) raster indices of the original H×W grid; -1 marks padded positions."""
    Hp, Wp = H + H % 2, W + W % 2
    grid = torch.full((Hp, Wp), -1, dtype=torch.long)
    grid[:H, :W] = torch.arange(H * W).view(H, W)
    return torch.stack([
        grid[0::2, 0::2].flatten(),
        grid[1::2, 0::2].t().flatten(),
        grid[0::2, 1::2].flatten(),
        grid[1::2, 1::2].t().flatten(),
    ])


@register_scan("atrous")
class AtrousScan(ScanStrategy):
    """ES2D: 4 directions over disjoint stride-2 sub-grids; merge scatters (each pixel from one direction)."""

    num_directions = 4
    merge_mode = "scatter"

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        return atrous_orders(H, W)
