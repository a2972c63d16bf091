"""VMamba SS2D cross-scan and its other ``forward_type`` modes (``v051d`` unidirectional, ``v052d`` bidirectional),
plus the single raster scan of plain Mamba U-Nets.

All three share VMamba's ``cross_scan_fn`` / ``cross_merge_fn`` (``scans=0/1/2``): K = 4 directions,
merge = plain sum, no per-direction weights.

Their orders are rasters, transposes and reversals, so they implement ``fast_scan``/``fast_merge`` with strided
copies and flips (no index gather / scatter over K·L, which cost ~5-10x more on CPU); the generic index path of
``ScanStrategy`` stays the definition (tests compare the two) and serves subclasses that change the orders or
``merge_mode``.
"""
from typing import Optional

import torch

from .base import ScanStrategy
from .registry import register_scan


def _fast_path(strategy: ScanStrategy, cls: type) -> bool:
    """The strided/flip path applies while a subclass keeps ``cls``'s orders and the plain-sum merge."""
    return type(strategy).build_orders is cls.build_orders and strategy.merge_mode == "sum"


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

    def fast_scan(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        """(B, C, H, W) → contiguous (B, 4, C, L): row-major, column-major, then both reversed."""
        if not _fast_path(self, CrossScan):
            return None
        Bsz, C, H, W = x.shape
        if torch.jit.is_tracing():  # the ONNX tracer drops copies into views of a fresh tensor: same tokens, functional
            xs = torch.stack([x.flatten(2), x.transpose(2, 3).flatten(2)], dim=1)
            return torch.cat([xs, xs.flip(-1)], dim=1)
        xs = x.new_empty(Bsz, 4, C, H * W)
        xs[:, 0].view(Bsz, C, H, W).copy_(x)
        xs[:, 1].view(Bsz, C, W, H).copy_(x.transpose(2, 3))
        xs[:, 2:].copy_(xs[:, :2].flip(-1))
        return xs

    def fast_merge(self, y: torch.Tensor, H: int, W: int) -> Optional[torch.Tensor]:
        if not _fast_path(self, CrossScan):
            return None
        Bsz, K, C, L = y.shape
        pair = y[:, :2] + y[:, 2:].flip(-1)  # each reversed direction added back onto its forward one
        # written channels-last: the layer's out-norm (LayerNorm over C) then reads it without another copy
        out = y.new_empty(Bsz, H, W, C).permute(0, 3, 1, 2)
        out.copy_(pair[:, 1].view(Bsz, C, W, H).transpose(2, 3))
        return out.add_(pair[:, 0].view(Bsz, C, H, W))


@register_scan("raster")
class RasterScan(ScanStrategy):
    """One causal row-major scan (K = 1): plain Mamba on the flattened grid (LightM-UNet, U-Mamba)."""

    num_directions = 1

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        return torch.arange(H * W)[None]

    def fast_scan(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        if not _fast_path(self, RasterScan):
            return None
        Bsz, C, H, W = x.shape
        return x.reshape(Bsz, 1, C, H * W)

    def fast_merge(self, y: torch.Tensor, H: int, W: int) -> Optional[torch.Tensor]:
        if not _fast_path(self, RasterScan):
            return None
        return y.reshape(y.shape[0], y.shape[2], H, W)


@register_scan("unidirectional")
class UnidirectionalScan(ScanStrategy):
    """VMamba ``v051d`` (``scans=1``): four copies of row-major, each with its own parameters, summed."""

    num_directions = 4

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        return torch.arange(H * W).expand(4, H * W).clone()

    def fast_scan(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        if not _fast_path(self, UnidirectionalScan):
            return None
        Bsz, C, H, W = x.shape
        return x.reshape(Bsz, 1, C, H * W).expand(Bsz, 4, C, H * W).contiguous()

    def fast_merge(self, y: torch.Tensor, H: int, W: int) -> Optional[torch.Tensor]:
        if not _fast_path(self, UnidirectionalScan):
            return None
        return y.sum(1).view(y.shape[0], y.shape[2], H, W)


@register_scan("bidirectional_2d")
class Bidirectional2DScan(ScanStrategy):
    """VMamba ``v052d`` (``scans=2``): k0 = k1 = row-major, k2 = k3 = reversed row-major, summed."""

    num_directions = 4

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        row = torch.arange(H * W)
        return torch.stack([row, row, row.flip(0), row.flip(0)])

    def fast_scan(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        if not _fast_path(self, Bidirectional2DScan):
            return None
        Bsz, C, H, W = x.shape
        if torch.jit.is_tracing():  # the ONNX tracer drops copies into views of a fresh tensor: same tokens, functional
            xs = x.reshape(Bsz, 1, C, H * W).expand(Bsz, 2, C, H * W)
            return torch.cat([xs, xs.flip(-1)], dim=1)
        xs = x.new_empty(Bsz, 4, C, H * W)
        xs[:, :2].copy_(x.reshape(Bsz, 1, C, H * W).expand(Bsz, 2, C, H * W))
        xs[:, 2:].copy_(xs[:, :2].flip(-1))
        return xs

    def fast_merge(self, y: torch.Tensor, H: int, W: int) -> Optional[torch.Tensor]:
        if not _fast_path(self, Bidirectional2DScan):
            return None
        Bsz, K, C, L = y.shape
        return (y[:, :2].sum(1) + y[:, 2:].sum(1).flip(-1)).view(Bsz, C, H, W)
