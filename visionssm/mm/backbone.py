"""One mmdet/mmseg backbone over any timm model (visionssm's or timm's own): NCHW maps of selected stages."""
import functools
import logging
import os
import sys
from typing import Dict, Mapping, Optional, Sequence

import timm
import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from timm.layers import LayerNorm2d
from timm.models import group_parameters
from timm.models._features import FeatureGetterNet
from torch import nn

from .registry import MODELS

__all__ = ["VisionSSMBackbone", "build_timm_features", "keep_grad_layout", "load_backbone_checkpoint"]


def _grad_like_param(grad: torch.Tensor, stride: tuple) -> torch.Tensor:
    if grad.stride() == stride or grad.dim() != len(stride):
        return grad
    if any(g != s and n != 1 for g, s, n in zip(grad.stride(), stride, grad.shape)):
        return grad  # a real layout difference: autograd copies it into the parameter's layout itself
    return grad.as_strided(grad.shape, stride, grad.storage_offset())  # same memory, relabelled: no copy


def keep_grad_layout(module: nn.Module) -> nn.Module:
    """Give gradients the exact strides of their parameters where the two differ only on size-1 dimensions.

    A depthwise conv weight ``(C, 1, k, k)`` is stored contiguous (strides ``(k*k, k*k, k, 1)``), but when its
    input is an NHWC tensor permuted to NCHW (the VMamba-family blocks) the convolution's backward returns the
    weight gradient as channels-last (``(k*k, 1, k, 1)``): the same memory order, other stride labels. Autograd
    accepts that, but DDP compares strides literally, warns ``Grad strides do not match bucket view strides``
    and copies every such gradient at every step. A tensor hook relabels those gradients (a view, no copy).
    """
    for p in module.parameters():
        if p.dim() > 1 and 1 in p.shape and p.requires_grad:
            p.register_hook(functools.partial(_grad_like_param, stride=tuple(p.stride())))
    return module


def build_timm_features(model_name: Optional[str], official: Optional[Mapping], out_indices: Sequence[int],
                        model_kwargs: Dict, pretrained: bool = False) -> FeatureGetterNet:
    """A timm ``features_only`` getter net (``forward_intermediates`` under the hood, keys ``model.*``).

    ``model_name``: any timm name (``import visionssm`` registers ours); ``model_kwargs`` go to
    ``timm.create_model`` (e.g. ``depths``, ``dims``, ``scan``, ``drop_path_rate``). ``official``:
    ``dict(family=..., kwargs=<official constructor kwargs>, checkpoint=None|path)`` builds our model through
    ``visionssm.convert.from_official`` instead (for models trained with the official code).
    ``pretrained=True`` loads the model's released ImageNet weights (its timm ``pretrained_cfg`` url / hub id;
    the family's ``checkpoint_filter_fn`` converts the official file) before the head is pruned.
    """
    if (model_name is None) == (official is None):
        raise ValueError("VisionSSMBackbone needs exactly one of model_name (a timm name) or official="
                         "dict(family=..., kwargs=..., checkpoint=...)")
    import visionssm  # noqa: F401  (registers our timm models)
    if official is not None:
        if model_kwargs:
            raise TypeError(f"model kwargs {sorted(model_kwargs)} are not used with official=...: put them in "
                            "official['kwargs'] (official constructor names)")
        unknown = set(official) - {"family", "kwargs", "checkpoint"}
        if unknown:
            raise TypeError(f"official= accepts family, kwargs, checkpoint; got unknown {sorted(unknown)}")
        from visionssm.convert import from_official
        model = from_official(official["family"], official.get("kwargs", {}), official.get("checkpoint"))
        return FeatureGetterNet(model, out_indices=tuple(out_indices), output_fmt="NCHW")
    if not timm.is_model(model_name):
        raise KeyError(f"unknown timm model {model_name!r}; visionssm names: "
                       f"{', '.join(timm.list_models('vmamba*')[:6])} ... (timm.list_models() lists all)")
    if pretrained and "pretrained_cfg_overlay" not in model_kwargs:
        _check_downloadable(model_name)
    return timm.create_model(model_name, pretrained=pretrained, features_only=True, feature_cls="getter",
                             out_indices=tuple(out_indices), **model_kwargs)


def _check_downloadable(model_name: str) -> None:
    """``pretrained=True`` for a variant whose released weights have no direct download: say how to get them."""
    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None or cfg.url or cfg.hf_hub_id or cfg.file or cfg.state_dict:
        return
    where = f" (released at {cfg.origin_url})" if cfg.origin_url else ""
    raise ValueError(
        f"backbone {model_name}: pretrained=True, but its ImageNet weights have no direct download{where}. "
        f"Download the official .pth and set model.backbone.init_cfg=dict(type='Pretrained', checkpoint=<path>) "
        f"with pretrained=False, or pretrained=False to train from scratch. (Evaluation and inference with a full "
        f"checkpoint need neither: tools/test.py and visionssm infer build without backbone weights.)")


def _local_file(checkpoint: str) -> str:
    """A local path for ``checkpoint`` (URLs are downloaded once into torch's hub cache)."""
    if not checkpoint.startswith(("http://", "https://")):
        return checkpoint
    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, os.path.basename(checkpoint.split("?")[0]))
    if not os.path.isfile(path):
        torch.hub.download_url_to_file(checkpoint, path)
    return path


def load_backbone_checkpoint(model: nn.Module, checkpoint: str, model_name: Optional[str] = None,
                             model_kwargs: Optional[Mapping] = None) -> None:
    """Load our or an official checkpoint (path or URL) into the timm ``model`` (safe loading).

    Our layouts load directly: a timm state dict, ``{'model'|'state_dict'|'model_ema': ...}`` containers,
    ``module.`` prefixes and mmdet/mmseg checkpoints (``backbone.`` prefixes are stripped); keys pruned away
    for feature extraction (head, final norm) are ignored. Anything else is treated as an official checkpoint:
    timm builds ``model_name`` with ``pretrained_cfg_overlay=dict(file=...)`` so that the family's
    ``checkpoint_filter_fn`` converts it (released checkpoints: 1000 classes). Every model key must be found.
    """
    from visionssm.convert import load_checkpoint_file, unwrap_state_dict
    path = _local_file(checkpoint)
    sd = unwrap_state_dict(load_checkpoint_file(path))
    for p in ("backbone.body.model.", "backbone.model.", "backbone."):
        if any(k.startswith(p) for k in sd):
            sd = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
            break
    own = model.state_dict()
    if any(k not in sd for k in own):  # not our layout: convert through the family's checkpoint_filter_fn
        if model_name is None:
            filter_fn = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
            if filter_fn is not None:
                sd = filter_fn(sd, model)
        else:
            full = timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay={"file": path},
                                     **dict(model_kwargs or {}))
            sd = full.state_dict()
    missing = [k for k in own if k not in sd]
    shape = [k for k in own if k in sd and sd[k].shape != own[k].shape]
    if missing or shape:
        msg = [f"checkpoint {checkpoint} does not fit backbone {type(model).__name__}:"]
        if missing:
            msg.append(f"{len(missing)} missing keys, first: {missing[:5]}")
        if shape:
            msg.append(f"{len(shape)} shape mismatches, first: {shape[0]} {tuple(sd[shape[0]].shape)} vs "
                       f"{tuple(own[shape[0]].shape)}")
        msg.append("use the checkpoint of the configured variant (model_name / kwargs), or official=dict(...)")
        raise RuntimeError(" ".join(msg))
    unused = [k for k in sd if k not in own]
    model.load_state_dict({k: sd[k] for k in own}, strict=True)
    print_log(f"loaded {len(own)} tensors from {checkpoint} ({len(unused)} unused, e.g. the classifier: "
              f"{unused[:3]})", logger="current", level=logging.INFO)


def _out_norm(kind: Optional[str], channels: int) -> nn.Module:
    if kind is None:
        return nn.Identity()
    if kind == "ln2d":
        return LayerNorm2d(channels)
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"out_norm must be 'ln2d', 'bn' or None, got {kind!r}")


@MODELS.register_module()
class VisionSSMBackbone(BaseModule):
    """mmdet/mmseg backbone: a timm model's stages as a tuple of NCHW maps, with a norm per output.

    Args:
        model_name: timm model name, e.g. ``'vmamba_tiny_s1l8'`` (any timm model with forward_intermediates).
        pretrained: load the released ImageNet weights of ``model_name`` (downloaded once into timm's cache).
        official: instead of ``model_name``, ``dict(family, kwargs, checkpoint)`` for official-code models.
        out_indices: stages to return (0 = stride 4 for the hierarchical families).
        out_norm: ``'ln2d'`` (as the official VMamba-family wrappers' ``outnorm{i}``), ``'bn'`` or None.
        frozen_stages: -1 trains everything; k >= 0 freezes the stem and stages < k (eval mode kept).
        with_cp: gradient checkpointing (``set_grad_checkpointing``) to save memory.
        init_cfg: ``dict(type='Pretrained', checkpoint=path_or_url)`` with an official or our checkpoint.
        **model_kwargs: forwarded to ``timm.create_model`` (``depths``, ``dims``, ``scan``, ``drop_path_rate`` ...).
    """

    def __init__(self, model_name: Optional[str] = None, official: Optional[dict] = None, pretrained: bool = False,
                 out_indices: Sequence[int] = (0, 1, 2, 3), out_norm: Optional[str] = "ln2d",
                 frozen_stages: int = -1, with_cp: bool = False, init_cfg: Optional[dict] = None, **model_kwargs):
        if init_cfg is not None and init_cfg.get("type") != "Pretrained":
            raise ValueError(f"init_cfg must be dict(type='Pretrained', checkpoint=...), got {init_cfg}")
        super().__init__(init_cfg=init_cfg)
        self.body = build_timm_features(model_name, official, out_indices, dict(model_kwargs), pretrained)
        self._timm_args = (model_name, dict(model_kwargs))  # to convert official checkpoints in init_weights
        self._is_init = bool(pretrained)  # released weights loaded: mmengine must not re-initialise them
        self.out_indices = tuple(out_indices)
        self.channels = self.body.feature_info.channels()
        self.strides = self.body.feature_info.reduction()
        self.out_norms = nn.ModuleList([_out_norm(out_norm, c) for c in self.channels])
        keep_grad_layout(self.body)
        self.frozen_stages = frozen_stages
        if with_cp:
            self.body.model.set_grad_checkpointing(True)
        self._frozen_modules = []
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is not None and self.init_cfg.get("checkpoint"):
            load_backbone_checkpoint(self.body.model, self.init_cfg["checkpoint"], *self._timm_args)
            self._is_init = True  # stops mmengine from re-initialising the loaded weights
        else:
            super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        # timm's coarse group matcher: group 0 = stem, group i = stage i-1 (for every hierarchical family).
        inner = self.body.model
        groups = group_parameters(inner, inner.group_matcher(coarse=True))
        frozen = {n for gid, names in groups.items() if gid <= self.frozen_stages for n in names}
        for name, p in inner.named_parameters():
            if name in frozen:
                p.requires_grad_(False)
        self._frozen_modules = [m for _, m in inner.named_modules()
                                if any(True for _ in m.parameters(recurse=False))
                                and all(not p.requires_grad for p in m.parameters(recurse=False))]
        for i in range(min(self.frozen_stages, len(self.out_norms))):
            self.out_norms[i].requires_grad_(False)
            self._frozen_modules.append(self.out_norms[i])
        for m in self._frozen_modules:
            m.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self._frozen_modules:
            m.eval()
        return self

    def forward(self, x: torch.Tensor):
        feats = self.body(x)
        return tuple(norm(f) for norm, f in zip(self.out_norms, feats))
