"""Vim's simple feature pyramid for plain (non-hierarchical, stride-16) backbones such as ``vim_tiny``."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from timm.models import group_parameters
from torch import nn

from .backbone import build_timm_features, load_backbone_checkpoint
from .registry import MODELS

__all__ = ["VisionSSMSimplePyramid"]


def _norm(norm_cfg: dict, c: int) -> nn.Module:
    from mmcv.cnn import build_norm_layer  # pure Python, present in mmcv-lite
    return build_norm_layer(norm_cfg, c)[1]


def _rescale(scale: float, c: int, norm: dict) -> nn.Module:
    """Deconvolutions up, identity, or max-pool down (Vim/BEiT ``fpn1..fpn4``; ViTDet's simple pyramid)."""
    if scale == 4.0:
        return nn.Sequential(nn.ConvTranspose2d(c, c, 2, 2), _norm(norm, c), nn.GELU(), nn.ConvTranspose2d(c, c, 2, 2))
    if scale == 2.0:
        return nn.ConvTranspose2d(c, c, 2, 2)
    if scale == 1.0:
        return nn.Identity()
    if scale == 0.5:
        return nn.MaxPool2d(2, 2)
    raise ValueError(f"scales must be in (4.0, 2.0, 1.0, 0.5), got {scale}")


@MODELS.register_module()
class VisionSSMSimplePyramid(BaseModule):
    """Multi-scale NCHW maps from a plain model: strides 4/8/16/32 from its stride-16 tokens.

    ``out_indices`` are block indices of the plain model: four of them (Vim segmentation: ``(5, 11, 17, 23)``)
    give one block per scale, as in Vim's UperNet backbone; a single one (ViTDet) feeds all scales from the
    same map. Channels stay ``embed_dim`` at every scale (the FPN / UperNet neck projects them).

    Args:
        model_name / official / pretrained / init_cfg / with_cp / **model_kwargs: as :class:`VisionSSMBackbone`.
        scales: resampling factor per output relative to the model's stride (default 4x, 2x, 1x, 0.5x).
        norm_cfg: norm inside the 4x branch, mmcv style (Vim uses ``dict(type='SyncBN')``).
        frozen_stages: -1 trains all; k >= 0 freezes the patch embedding and the first k blocks.
    """

    def __init__(self, model_name: Optional[str] = None, official: Optional[dict] = None, pretrained: bool = False,
                 out_indices: Sequence[int] = (5, 11, 17, 23), scales: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 norm_cfg: Optional[dict] = None, frozen_stages: int = -1, with_cp: bool = False, init_cfg: Optional[dict] = None,
                 **model_kwargs):
        if init_cfg is not None and init_cfg.get("type") != "Pretrained":
            raise ValueError(f"init_cfg must be dict(type='Pretrained', checkpoint=...), got {init_cfg}")
        if len(out_indices) not in (1, len(scales)):
            raise ValueError(f"out_indices must hold 1 or len(scales)={len(scales)} block indices, got {out_indices}")
        super().__init__(init_cfg=init_cfg)
        wanted = list(out_indices) * (len(scales) if len(out_indices) == 1 else 1)
        unique = sorted(set(wanted))
        self.body = build_timm_features(model_name, official, unique, dict(model_kwargs), pretrained)
        self._timm_args = (model_name, dict(model_kwargs))
        self._pick = [unique.index(i) for i in wanted]  # which body output feeds each scale
        c = self.body.feature_info.channels()[-1]
        self.scales = tuple(float(s) for s in scales)
        norm_cfg = dict(norm_cfg or {"type": "BN"})
        self.rescale = nn.ModuleList([_rescale(s, c, norm_cfg) for s in self.scales])
        self.channels = [c] * len(self.scales)
        self.frozen_stages = frozen_stages
        if with_cp:
            self.body.model.set_grad_checkpointing(True)
        if frozen_stages >= 0:
            inner = self.body.model
            groups = group_parameters(inner, inner.group_matcher(coarse=False))
            for name, p in inner.named_parameters():
                if any(name in groups.get(g, ()) for g in range(frozen_stages + 1)):
                    p.requires_grad_(False)

    def init_weights(self):
        if self.init_cfg is not None and self.init_cfg.get("checkpoint"):
            load_backbone_checkpoint(self.body.model, self.init_cfg["checkpoint"], *self._timm_args)
            self._is_init = True
            for m in self.rescale.modules():  # the new pyramid layers still need their own init
                if isinstance(m, nn.ConvTranspose2d):
                    m.reset_parameters()
        else:
            super().init_weights()

    def forward(self, x: torch.Tensor):
        feats = self.body(x)
        return tuple(op(feats[i]) for op, i in zip(self.rescale, self._pick))
