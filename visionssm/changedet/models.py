"""MambaBCD / MambaSCD / MambaBDA (ChangeMamba) on any timm ``features_only`` backbone.

One Siamese encoder (shared weights) encodes both dates; decoders from :mod:`.decoders`; 1×1 heads; logits
are bilinearly upsampled to the input size. Each model also knows its loss (:mod:`.losses`) and how to turn
outputs into label maps (``predict``), so plain-PyTorch loops, the mmengine wrapper and inference share them.

    model = MambaBCD(backbone="vmamba_tiny_s1l8")          # default VMamba encoder, "cross" scan
    model = MambaBCD(backbone="resnet18", scan="hilbert")  # any timm backbone, any registered scan
    logits = model(img_from, img_to)                       # (B, 2, H, W)
"""
from typing import Any, Dict, List, Optional, Tuple, Union

import timm
import torch
import torch.nn.functional as F
from torch import nn

from visionssm.layers.norms import LayerNorm2d

from .decoders import ChangeDecoder, SemanticDecoder, VSSBlockFactory
from .losses import bcd_loss, bda_loss, scd_loss, total_loss

DEFAULT_BACKBONE = "vmamba_tiny_s1l8"
# ChangeMamba's released encoders (ImageNet checkpoints vssm_{tiny_0230,small_0229,base_0229}: VMamba s2l5/s2l15)
CHANGEMAMBA_ENCODERS = {"tiny": "vmamba_tiny_s2l5", "small": "vmamba_small_s2l15", "base": "vmamba_base_s2l15"}


class SiameseEncoder(nn.Module):
    """One timm ``features_only`` backbone applied to both dates (shared weights).

    Keeps the four deepest feature levels (timm CNNs also return a stride-2 level). ``out_norm`` adds a
    LayerNorm2d per level as ChangeMamba's ``Backbone_VSSM`` (``outnorm{i}``); "auto" = only for visionssm
    backbones. Both dates run as one batch (one pass, BatchNorm statistics over both).
    """

    def __init__(self, backbone: str = DEFAULT_BACKBONE, pretrained: bool = False,
                 backbone_kwargs: Optional[Dict[str, Any]] = None, num_levels: int = 4,
                 out_norm: Union[bool, str] = "auto"):
        super().__init__()
        kwargs = dict(backbone_kwargs or {})
        self.backbone_name, self.backbone_kwargs = backbone, kwargs  # to rebuild it, e.g. for pretrained weights
        self.backbone = timm.create_model(backbone, pretrained=pretrained, features_only=True, **kwargs)
        channels = list(self.backbone.feature_info.channels())
        reductions = list(self.backbone.feature_info.reduction())
        if len(channels) < num_levels:
            raise ValueError(f"backbone {backbone!r} gives {len(channels)} feature levels, the decoder needs {num_levels}; "
                             f"pass backbone_kwargs=dict(out_indices=...) with {num_levels} levels")
        self.keep = list(range(len(channels) - num_levels, len(channels)))
        self.channels = [channels[i] for i in self.keep]
        self.reductions = [reductions[i] for i in self.keep]
        if out_norm == "auto":
            out_norm = type(self.backbone).__module__.startswith("visionssm") or any(
                type(m).__module__.startswith("visionssm") for m in self.backbone.children())
        self.norms = nn.ModuleList(LayerNorm2d(c) if out_norm else nn.Identity() for c in self.channels)

    def load_pretrained(self, checkpoint: str) -> None:
        """ImageNet weights (official or ours; file path or URL) through timm's loader: ``weights_only`` loading and
        the family's ``checkpoint_filter_fn``. Builds the same backbone once more and copies its weights."""
        source = {"url": checkpoint} if checkpoint.startswith(("http://", "https://")) else {"file": checkpoint}
        kwargs = {k: v for k, v in self.backbone_kwargs.items() if k != "pretrained_cfg_overlay"}
        src = timm.create_model(self.backbone_name, pretrained=True, features_only=True,
                                pretrained_cfg_overlay=dict(source, hf_hub_id=None), **kwargs)
        self.backbone.load_state_dict(src.state_dict(), strict=True)

    def encode(self, x: torch.Tensor) -> List[torch.Tensor]:
        feats = self.backbone(x)
        return [norm(feats[i]) for norm, i in zip(self.norms, self.keep)]

    def forward(self, pre: torch.Tensor, post: torch.Tensor) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        if pre.shape != post.shape:
            raise ValueError(f"the two dates must have the same shape, got {tuple(pre.shape)} and {tuple(post.shape)}")
        feats = self.encode(torch.cat([pre, post], dim=0))
        n = pre.shape[0]
        return [f[:n] for f in feats], [f[n:] for f in feats]


def _split_inputs(img_from: torch.Tensor, img_to: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Accept (pre, post) or one 6-channel tensor (open-cd's packed layout)."""
    if img_to is not None:
        return img_from, img_to
    if img_from.shape[1] % 2:
        raise ValueError(f"a single input must stack both dates on channels (2·C), got {img_from.shape[1]} channels")
    return img_from.chunk(2, dim=1)


def _up(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class _ChangeModel(nn.Module):
    """Shared construction: encoder + block factory. Subclasses add decoders and heads."""

    task = ""

    def __init__(self, backbone: str = DEFAULT_BACKBONE, pretrained: bool = False,
                 backbone_kwargs: Optional[Dict[str, Any]] = None, channels: int = 128, scan: Any = "cross",
                 scan_kwargs: Optional[Dict[str, Any]] = None, drop_path: float = 0.1,
                 block_kwargs: Optional[Dict[str, Any]] = None, out_norm: Union[bool, str] = "auto"):
        super().__init__()
        self.encoder = SiameseEncoder(backbone, pretrained, backbone_kwargs, out_norm=out_norm)
        self._factory = VSSBlockFactory(scan, scan_kwargs, drop_path, **(block_kwargs or {}))
        self.channels = channels

    @property
    def encoder_channels(self) -> List[int]:
        return self.encoder.channels

    def loss(self, outputs, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must define loss(): each task head defines its own")

    def predict(self, outputs) -> Dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must define predict(): each task head defines its own")

    def train_step_loss(self, batch: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Forward + loss on a batch dict from the datasets (``img_from``, ``img_to``, labels)."""
        parts = self.loss(self(batch["img_from"], batch["img_to"]), batch)
        return total_loss(parts), parts


class MambaBCD(_ChangeModel):
    """Binary change detection: ChangeDecoder → 1×1 conv → 2 classes (unchanged / changed)."""

    task = "bcd"

    def __init__(self, num_classes: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.decoder = ChangeDecoder(self.encoder_channels, self.channels, self._factory)
        self.head = nn.Conv2d(self.channels, num_classes, 1)

    def forward(self, img_from: torch.Tensor, img_to: Optional[torch.Tensor] = None) -> torch.Tensor:
        img_from, img_to = _split_inputs(img_from, img_to)
        pre, post = self.encoder(img_from, img_to)
        return _up(self.head(self.decoder(pre, post)), img_from.shape[-2:])

    def loss(self, outputs: torch.Tensor, batch) -> Dict[str, torch.Tensor]:
        return bcd_loss(outputs, batch["gt"])

    def predict(self, outputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"change": outputs.argmax(1)}


class MambaSCD(_ChangeModel):
    """Semantic change detection (SECOND): a ChangeDecoder for change, one SemanticDecoder per date, and one
    semantic head shared by both dates (7 classes, 0 = no change)."""

    task = "scd"

    def __init__(self, num_semantic_classes: int = 7, **kwargs):
        super().__init__(**kwargs)
        c = self.channels
        self.decoder = ChangeDecoder(self.encoder_channels, c, self._factory)
        self.decoder_from = SemanticDecoder(self.encoder_channels, c, self._factory)
        self.decoder_to = SemanticDecoder(self.encoder_channels, c, self._factory)
        self.head = nn.Conv2d(c, 2, 1)
        self.head_semantic = nn.Conv2d(c, num_semantic_classes, 1)

    def forward(self, img_from: torch.Tensor, img_to: Optional[torch.Tensor] = None):
        img_from, img_to = _split_inputs(img_from, img_to)
        pre, post = self.encoder(img_from, img_to)
        size = img_from.shape[-2:]
        change = _up(self.head(self.decoder(pre, post)), size)
        sem_from = _up(self.head_semantic(self.decoder_from(pre)), size)
        sem_to = _up(self.head_semantic(self.decoder_to(post)), size)
        return change, sem_from, sem_to

    def loss(self, outputs, batch) -> Dict[str, torch.Tensor]:
        return scd_loss(*outputs, batch["gt"], batch["gt_from"], batch["gt_to"])

    def predict(self, outputs) -> Dict[str, torch.Tensor]:
        """Change map, and each date's land cover on changed pixels (0 elsewhere). Class 0 is never a target of
        the semantic head, so the argmax runs over classes 1.. only."""
        change, sem_from, sem_to = outputs
        change = change.argmax(1)
        return {"change": change,
                "semantic_from": (sem_from[:, 1:].argmax(1) + 1) * change,
                "semantic_to": (sem_to[:, 1:].argmax(1) + 1) * change}


class MambaBDA(_ChangeModel):
    """Building damage assessment (xBD): building localisation from the pre image (SemanticDecoder) and
    damage classification from both dates (ChangeDecoder): 0 background, 1 no, 2 minor, 3 major, 4 destroyed."""

    task = "bda"

    def __init__(self, num_damage_classes: int = 5, **kwargs):
        super().__init__(**kwargs)
        c = self.channels
        self.decoder_loc = SemanticDecoder(self.encoder_channels, c, self._factory)
        self.decoder = ChangeDecoder(self.encoder_channels, c, self._factory)
        self.head_loc = nn.Conv2d(c, 2, 1)
        self.head = nn.Conv2d(c, num_damage_classes, 1)

    def forward(self, img_from: torch.Tensor, img_to: Optional[torch.Tensor] = None):
        img_from, img_to = _split_inputs(img_from, img_to)
        pre, post = self.encoder(img_from, img_to)
        size = img_from.shape[-2:]
        return _up(self.head_loc(self.decoder_loc(pre)), size), _up(self.head(self.decoder(pre, post)), size)

    def loss(self, outputs, batch) -> Dict[str, torch.Tensor]:
        return bda_loss(*outputs, batch["gt_loc"], batch["gt_damage"])

    def predict(self, outputs) -> Dict[str, torch.Tensor]:
        """Buildings, and damage on predicted buildings (argmax over classes 1..4 there, 0 elsewhere)."""
        loc, damage = outputs
        loc = loc.argmax(1)
        return {"loc": loc, "damage": (damage[:, 1:].argmax(1) + 1) * loc}


CHANGE_MODELS = {"mamba_bcd": MambaBCD, "mamba_scd": MambaSCD, "mamba_bda": MambaBDA}


def build_change_model(name: str, size: Optional[str] = None, **kwargs) -> _ChangeModel:
    """``build_change_model("mamba_bcd", size="tiny")`` uses ChangeMamba's encoder for that size; any kwargs of
    the model classes (backbone, pretrained, scan, channels, block_kwargs, ...) can be given."""
    if name not in CHANGE_MODELS:
        raise ValueError(f"unknown change model {name!r}; choose one of {sorted(CHANGE_MODELS)}")
    if size is not None:
        if size not in CHANGEMAMBA_ENCODERS:
            raise ValueError(f"size must be one of {sorted(CHANGEMAMBA_ENCODERS)}, got {size!r}")
        kwargs.setdefault("backbone", CHANGEMAMBA_ENCODERS[size])
    return CHANGE_MODELS[name](**kwargs)


def output_stride(model: _ChangeModel) -> int:
    """Stride of the decoder output before the final upsampling (4 for hierarchical backbones)."""
    return min(model.encoder.reductions)


__all__ = ["CHANGEMAMBA_ENCODERS", "CHANGE_MODELS", "DEFAULT_BACKBONE", "MambaBCD", "MambaBDA", "MambaSCD",
           "SiameseEncoder", "build_change_model", "output_stride"]
