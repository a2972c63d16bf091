"""An FPN that adds finer levels with transposed convolutions, for backbones whose first map is at stride 16.

EfficientViM (like EfficientViT) has no stride-4/8 stage; its detection recipes use this neck ("EfficientViTFPN" in
the official configs): a top-down FPN over the backbone's maps, then ``num_trans_levels`` 2x2 stride-2 transposed
convolutions up from the finest lateral (each followed by a 3x3 conv), and coarser levels by a stride-2 3x3 conv on
the last backbone map (``extra='on_input'``) or by stride-2 max-pooling of the last output (``extra='pool'``). The
official ``pre_norm`` (a LayerNorm per input map) is the backbone wrapper's ``out_norm='ln2d'``.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from .registry import MODELS

__all__ = ["TransposedFPN"]


@MODELS.register_module()
class TransposedFPN(BaseModule):
    """Outputs, finest first: ``num_trans_levels`` transposed-conv levels, one per input map, then extra levels
    up to ``num_outs``.

    Args:
        in_channels: channels of the backbone maps (finest first).
        out_channels: channels of every output.
        num_outs: number of outputs (>= len(in_channels) + num_trans_levels).
        num_trans_levels: levels finer than the first input, each 2x the resolution of the previous.
        extra: how levels coarser than the last input are made: ``'on_input'`` (stride-2 3x3 conv on the last backbone
            map, then on the previous output) or ``'pool'`` (stride-2 max-pool of the last output).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int, num_outs: int, num_trans_levels: int = 0,
                 extra: str = "pool", init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if extra not in ("pool", "on_input"):
            raise ValueError(f"TransposedFPN extra must be 'pool' or 'on_input', got {extra!r}")
        self.in_channels = list(in_channels)
        self.num_extra = num_outs - len(self.in_channels) - num_trans_levels
        if self.num_extra < 0:
            raise ValueError(f"TransposedFPN num_outs={num_outs} is fewer than the {len(self.in_channels)} inputs plus "
                             f"num_trans_levels={num_trans_levels}: raise num_outs or lower num_trans_levels")
        self.extra = extra
        self.lateral_convs = nn.ModuleList([nn.Conv2d(c, out_channels, 1) for c in self.in_channels])
        self.fpn_convs = nn.ModuleList([nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in self.in_channels])
        self.trans_convs = nn.ModuleList([nn.ConvTranspose2d(out_channels, out_channels, 2, stride=2)
                                          for _ in range(num_trans_levels)])
        self.trans_fpn_convs = nn.ModuleList([nn.Conv2d(out_channels, out_channels, 3, padding=1)
                                              for _ in range(num_trans_levels)])
        self.extra_convs = nn.ModuleList()
        if extra == "on_input":
            for i in range(self.num_extra):
                cin = self.in_channels[-1] if i == 0 else out_channels
                self.extra_convs.append(nn.Conv2d(cin, out_channels, 3, stride=2, padding=1))

    def init_weights(self):
        super().init_weights()
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f"TransposedFPN got {len(inputs)} maps for in_channels {self.in_channels}: make the "
                             "backbone's out_indices and the neck's in_channels agree")
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[-2:],
                                                              mode="nearest")
        finer: List[torch.Tensor] = []
        prev = laterals[0]
        for up, conv in zip(self.trans_convs, self.trans_fpn_convs):
            prev = up(prev)
            finer.insert(0, conv(prev))
        outs = [conv(lat) for conv, lat in zip(self.fpn_convs, laterals)]
        for i in range(self.num_extra):
            if self.extra == "pool":
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                outs.append(self.extra_convs[i](inputs[-1] if i == 0 else outs[-1]))
        return tuple(finer + outs)
