"""Generalized Hilbert-curve scan for any H×W (not only powers of two); consecutive tokens are 4-neighbours.

No official vision backbone with released Hilbert-scan code exists (Fractal-Mamba ships a README only), so
this is our construction: the recursive rectangle split of the generalized Hilbert ("gilbert") curve,
written in ``orders.hilbert``. Directions, K = 2 by default: k0 the curve from the top-left, k1 its reverse.
``transposed=True`` gives K = 4 laid out like VMamba's cross-scan (k0 curve, k1 curve of the transposed
grid, k2 = reverse(k0), k3 = reverse(k1)) so a 4-direction checkpoint (e.g. VMamba's) can be fine-tuned
with it. Merge = sum.
"""
import torch

from . import orders
from .base import ScanStrategy
from .registry import register_scan


@register_scan("hilbert")
class HilbertScan(ScanStrategy):
    def __init__(self, transposed: bool = False):
        super().__init__()
        self.transposed = transposed
        self.num_directions = 4 if transposed else 2

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        curve = orders.hilbert(H, W)
        if not self.transposed:
            return torch.stack([curve, curve.flip(0)])
        # the curve of the W×H grid, read back in this grid's raster indices: a path that starts down the
        # first column instead of along the first row
        t = orders.hilbert(W, H)
        t = (t % H) * W + t // H
        return torch.stack([curve, t, curve.flip(0), t.flip(0)])

    def extra_repr(self) -> str:
        return super().extra_repr() + f", transposed={self.transposed}"
