"""MLLA's block macro-structure, shared by Spatial-Mamba and VSSD (they differ only in the token mixer).

NHWC in and out: ``x += cpe1(x); x += dp(mixer(norm1(x))); x += cpe2(x); x += dp(mlp(norm2(x)))`` with
depthwise 3×3 conditional position encodings (Han et al., "Demystify Mamba in Vision", arXiv:2405.16605).
"""
from typing import Callable, Union

import torch
from timm.layers import DropPath, Mlp
from torch import nn


class MllaBlock(nn.Module):
    """MLLA block around any NHWC token ``mixer``.

    ``mixer``: a module, or a zero-argument factory called after ``norm1`` is built (keeps the family's
    parameter-creation order, hence its seeded initialisation).
    """

    def __init__(self, dim: int, mixer: Union[nn.Module, Callable[[], nn.Module]], mlp_ratio: float = 4.0,
                 drop: float = 0.0, drop_path: float = 0.0, norm_eps: float = 1e-5):
        super().__init__()
        self.cpe1 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.mixer = mixer if isinstance(mixer, nn.Module) else mixer()
        self.cpe2 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU, drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    @staticmethod
    def _cpe(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        return conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self._cpe(self.cpe1, x)
        x = x + self.drop_path(self.mixer(self.norm1(x)))
        x = x + self._cpe(self.cpe2, x)
        return x + self.drop_path(self.mlp(self.norm2(x)))
