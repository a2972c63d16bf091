"""VMamba ``v052dc`` "cascade2d": a row pass then a column pass, each a short bidirectional scan.

Two passes instead of one gather: the map is layer-normalised over channels (no affine parameters, as
VMamba does "to avoid nan"), every row is scanned as its own sequence of length W in both directions with
parameter sets k0 (forward) and k1 (reversed) and the two outputs are summed; the result is normalised
again and every column is scanned the same way (k2 forward, k3 reversed, length H).

Official quirk kept by default (``flip_back=False``): VMamba sums the reversed pass's output without
flipping it back, so the output at position t of a row adds the reversed scan's output for position W-1-t.
``flip_back=True`` aligns them (a true bidirectional pass; not what the released code computes).
"""
from typing import Callable, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .base import ScanStrategy
from .registry import register_scan


def _channel_layer_norm(x: torch.Tensor) -> torch.Tensor:
    """Parameter-free LayerNorm over C of a (B, C, H, W) map (eps 1e-5, VMamba's ``F.layer_norm``)."""
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],)).permute(0, 3, 1, 2)


@register_scan("cascade")
class CascadeScan(ScanStrategy):
    num_directions = 4

    def __init__(self, flip_back: bool = False):
        super().__init__()
        self.flip_back = flip_back

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        """k0 rows left→right, k1 rows right→left, k2 columns top→bottom, k3 columns bottom→top.

        Each row (k0, k1) or column (k2, k3) is a separate sequence: see ``segment_lengths``.
        """
        grid = torch.arange(H * W).view(H, W)
        return torch.stack([grid.flatten(), grid.flip(1).flatten(), grid.t().flatten(), grid.t().flip(1).flatten()])

    def segment_lengths(self, H: int, W: int) -> List[int]:
        return [W, W, H, H]

    def _bidirectional(self, seqs: torch.Tensor, ssm: nn.Module, directions: slice) -> torch.Tensor:
        """seqs (S, C, L) → (S, C, L): forward + reversed scan with the two parameter sets of ``directions``."""
        ys = ssm(torch.stack([seqs, seqs.flip(-1)], dim=1), directions=directions)
        reverse = ys[:, 1].flip(-1) if self.flip_back else ys[:, 1]
        return ys[:, 0] + reverse

    def forward(self, x: torch.Tensor, ssm: nn.Module, raw: Optional[torch.Tensor] = None,
                norm: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
        Bsz, C, H, W = x.shape
        x = _channel_layer_norm(x)
        rows = x.permute(0, 2, 1, 3).reshape(Bsz * H, C, W)
        y = self._bidirectional(rows, ssm, slice(0, 2)).view(Bsz, H, C, W).permute(0, 2, 1, 3)
        y = _channel_layer_norm(y)
        cols = y.permute(0, 3, 1, 2).reshape(Bsz * W, C, H)
        return self._bidirectional(cols, ssm, slice(2, 4)).view(Bsz, W, C, H).permute(0, 2, 3, 1)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", flip_back={self.flip_back}"
