"""RSMamba's three token orders: raster, reversed raster and a random shuffle of the grid (K = 3).

The official RSMamba (KyanChen/RSMamba) draws ``torch.randperm(L)`` in every layer on every forward, in eval mode
too, so its predictions change from run to run. Here:

- training (``resample_in_training=True``, the default): a fresh permutation per layer and forward, as the official
  code, drawn on the tokens' device (no host sync);
- eval: one fixed permutation per strategy instance, drawn from ``torch.Generator().manual_seed(seed)`` (a model
  gives each layer its own seed), so inference is deterministic and reproducible across runs and machines;
  ``set_permutation`` fixes it explicitly (e.g. to the permutations an official run drew);
- ``random_in_eval=True`` restores the official behaviour (``torch.randperm`` on the global generator in eval too):
  with the same seed and call order it reproduces an official forward exactly.

``orders(H, W, device)`` gives the (3, H·W) orders one forward uses (call it once and use the result for both the
gather and the inverse); ``scan``/``merge``/``forward`` draw once per call. The merge is a plain mean; RSMamba's
gated fusion (a learned softmax over the three mean-pooled paths) lives in its model file.
"""
from typing import Callable, Dict, Optional

import torch
from torch import nn

from .base import ScanStrategy
from .registry import register_scan

__all__ = ["ShuffleScan"]


@register_scan("shuffle")
class ShuffleScan(ScanStrategy):
    num_directions = 3
    merge_mode = "mean"

    def __init__(self, seed: int = 0, resample_in_training: bool = True, random_in_eval: bool = False):
        super().__init__()
        self.seed = int(seed)
        self.resample_in_training = resample_in_training
        self.random_in_eval = random_in_eval
        self._fixed: Dict[int, torch.Tensor] = {}  # L -> permutation set with set_permutation

    @property
    def random_now(self) -> bool:
        """True when this forward draws a fresh permutation (training, or the official eval behaviour)."""
        return (self.training and self.resample_in_training) or self.random_in_eval

    def eval_permutation(self, L: int) -> torch.Tensor:
        """The fixed permutation of L tokens used at eval (CPU): ``set_permutation``'s, else seeded."""
        perm = self._fixed.get(L)
        if perm is None:
            perm = torch.randperm(L, generator=torch.Generator().manual_seed(self.seed))
        return perm

    def set_permutation(self, perm: torch.Tensor) -> None:
        """Use ``perm`` (a permutation of 0..L-1) as the eval shuffle for grids of L tokens."""
        perm = torch.as_tensor(perm, dtype=torch.long).cpu().flatten()
        if not torch.equal(torch.sort(perm).values, torch.arange(perm.numel())):
            raise ValueError(f"set_permutation needs a permutation of 0..{perm.numel() - 1} (each index once); "
                             "pass e.g. torch.randperm(L)")
        self._fixed[perm.numel()] = perm
        self._order_cache.clear()
        self._index_cache.clear()

    def build_orders(self, H: int, W: int) -> torch.Tensor:
        raster = torch.arange(H * W)
        return torch.stack([raster, raster.flip(0), self.eval_permutation(H * W)])

    def orders(self, H: int, W: int, device=None) -> torch.Tensor:
        """(3, H·W) orders for one forward: cached at eval, freshly drawn when ``random_now``."""
        if not self.random_now:
            return self.token_orders(H, W, device)
        raster = torch.arange(H * W, device=device)
        perm = torch.randperm(H * W, device=device)
        return torch.stack([raster, raster.flip(0), perm])

    # scan / merge with one draw per call (the base class caches orders per grid, which a fresh shuffle cannot use)
    def scan(self, x: torch.Tensor, orders: Optional[torch.Tensor] = None) -> torch.Tensor:
        if orders is None and not self.random_now:
            return super().scan(x)
        Bsz, C, H, W = x.shape
        orders = self.orders(H, W, x.device) if orders is None else orders
        return x.reshape(Bsz, C, H * W).index_select(2, orders.reshape(-1)).view(Bsz, C, 3, H * W).transpose(1, 2)

    def merge(self, y: torch.Tensor, H: int, W: int, orders: Optional[torch.Tensor] = None) -> torch.Tensor:
        if orders is None and not self.random_now:
            return super().merge(y, H, W)
        if orders is None:
            raise ValueError("ShuffleScan.merge while drawing random permutations needs the orders scan used: "
                             "call orders(H, W, device) once and pass them to scan and merge (or use forward)")
        inverse = torch.argsort(orders, dim=1)  # step at which each pixel was visited, per direction
        Bsz, K, C, L = y.shape
        back = torch.gather(y, 3, inverse[None, :, None, :].expand(Bsz, K, C, L))
        return back.mean(1).view(Bsz, C, H, W)

    def forward(self, x: torch.Tensor, ssm: nn.Module, raw: Optional[torch.Tensor] = None,
                norm: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
        H, W = x.shape[-2:]
        orders = self.orders(H, W, x.device)
        return self.merge(ssm(self.scan(x, orders)), H, W, orders)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, seed={self.seed}, resample_in_training={self.resample_in_training}, "
                f"random_in_eval={self.random_in_eval}")
