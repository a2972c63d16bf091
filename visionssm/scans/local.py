"""LocalMamba windowed scans (``local_scan`` / ``local_reverse``) and its direction vocabulary.

Directions (LocalMamba ``MultiScan.ALL_CHOICES`` plus the ``column_first`` variant its ``local_scan`` has):
``h`` row-major, ``v`` column-major, ``w{k}`` windows of k×k visited row-major with tokens row-major inside,
``w{k}_v`` the same with windows and tokens column-major; ``_flip`` reverses any of them. For ``w{k}``, H
and W are padded with zeros up to multiples of k (padding marked -1 in the orders; the padded zeros are
scanned as tokens, exactly as LocalMamba does) and cropped back by the merge. Sequences shorter than the
longest are zero-padded at the end, as LocalMamba's ``MultiScanVSSM`` does to run all K in one call.

Default: a local cross-scan ``("w7", "w7_v", "w7_flip", "w7_v_flip")`` laid out like VMamba's (k2, k3 =
reversed k0, k1). LocalMamba's searched per-layer lists (e.g. ``("h", "h_flip", "w7", "w7_flip")``) are
passed as ``directions``. Merge = sum; LocalMamba's learned ``BiAttn`` gate on each direction's output is a
model feature and is not part of this strategy.
"""
import re
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from . import orders
from .base import ScanStrategy
from .registry import register_scan

_DIRECTION = re.compile(r"^(h|v|w(\d+)(_v)?)(_flip)?$")


def direction_order(name: str, H: int, W: int) -> torch.Tensor:
    """Raster indices (-1 = padding) of one LocalMamba direction name."""
    match = _DIRECTION.match(name)
    if match is None:
        raise ValueError(f"unknown local-scan direction {name!r}; use 'h', 'v', 'w<k>' or 'w<k>_v', "
                         f"each optionally with '_flip' (e.g. 'w7_flip')")
    base, window, column_first, flip = match.groups()
    if base == "h":
        order = orders.raster(H, W)
    elif base == "v":
        order = orders.column_major(H, W)
    else:
        if int(window) < 1:
            raise ValueError(f"window size must be >= 1, got {name!r}")
        order = orders.windowed(H, W, int(window), column_first=column_first is not None)
    return order.flip(0) if flip else order


@register_scan("local")
class LocalScan(ScanStrategy):
    def __init__(self, window_size: int = 7, directions: Optional[Sequence[str]] = None):
        super().__init__()
        k = int(window_size)
        self.window_size = k
        self.directions = tuple(directions) if directions is not None else (
            f"w{k}", f"w{k}_v", f"w{k}_flip", f"w{k}_v_flip")
        for name in self.directions:
            direction_order(name, 2, 2)  # validate names early
        self.num_directions = len(self.directions)

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        per_direction = [direction_order(name, H, W) for name in self.directions]
        length = max(o.numel() for o in per_direction)
        return torch.stack([F.pad(o, (0, length - o.numel()), value=-1) for o in per_direction])

    def extra_repr(self) -> str:
        return super().extra_repr() + f", window_size={self.window_size}, directions={self.directions}"
