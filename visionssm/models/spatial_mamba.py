"""Spatial-Mamba: Effective Visual State Space Models via Structure-Aware State Fusion (arXiv:2410.15091).

Official code: https://github.com/EdwardChasel/Spatial-Mamba (Apache-2.0). One row-major selective scan
(d_state 1) whose hidden states are fused by dilated depthwise convolutions before the output
projection (``scan="spatial_fusion"``, :mod:`visionssm.scans.spatial_fusion`); MLLA-style conv stem
and downsampling; every block ``x += cpe1(x); x += SSM(LN(x)); x += cpe2(x); x += MLP(LN(x))``. The
body runs channels-last (NHWC), as the official model does.

Official checkpoints (``{'model': ...}``) load through ``checkpoint_filter_fn`` (timm) or
``visionssm.convert.from_official("spatial_mamba", official_kwargs, path)``; the fixture test
(tests/models/test_spatial_mamba.py) reproduces the official logits and stage features within 1e-4.

``scan=`` takes any registered permutation strategy (``cross``, ``atrous``, ...): the block then runs
that strategy's K directions with K parameter sets instead of the state fusion (no official weights
exist for those). Mixer-kind strategies (non-causal SSD) are not supported here.
"""
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import ClassifierHead
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._manipulate import checkpoint_seq
from torch import nn

from visionssm.convert.common import checked_weights, unwrap_state_dict
from visionssm.convert.spatial_mamba import convert_official, legacy_key
from visionssm.layers import SS2D
from visionssm.layers.mlla_block import MllaBlock
from visionssm.layers.stems import MllaDownsample, MllaStem
from visionssm.scans import ScanSource

from ._hierarchical import HierarchicalBackbone, drop_path_rates, init_weights, stage_dims, stage_feature_info
from ._test_variants import TEST_CFG

__all__ = ["SpatialMamba", "checkpoint_filter_fn"]


# -- token mixer ----------------------------------------------------------------------------------
class SpatialMambaBlock(MllaBlock):
    """MLLA block whose mixer is SS2D: x += cpe1(x); x += SSM(norm1(x)); x += cpe2(x); x += MLP(norm2(x)), NHWC."""

    def __init__(self, dim: int, scan: nn.Module, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 norm_eps: float = 1e-5, d_state: int = 1, ssm_ratio: float = 2.0, dt_rank: Union[int, str] = "auto",
                 backend: str = "auto"):
        # Structure-aware SSM: in_proj → (x, z); x: DW 3×3 + SiLU → scan/fusion → LayerNorm → ·SiLU(z) → out_proj
        def mixer() -> nn.Module:
            return SS2D(dim, scan=scan, d_state=d_state, ssm_ratio=ssm_ratio, dt_rank=dt_rank, d_conv=3,
                        conv_bias=True, gate="silu", out_norm=True, proj_bias=False, channels_first=False,
                        backend=backend, norm_eps=1e-5)

        super().__init__(dim, mixer, mlp_ratio, drop_path=drop_path, norm_eps=norm_eps)


class SpatialMambaStage(nn.Module):
    """Optional downsample (stages 1..3), then blocks; NHWC in and out."""

    def __init__(self, in_dim: int, dim: int, depth: int, downsample: bool, drop_path: Sequence[float],
                 scan: Union[str, nn.Module] = "spatial_fusion", scan_kwargs: Optional[Mapping[str, Any]] = None,
                 ssm_ratio: float = 2.0, **block_kwargs):
        super().__init__()
        self.grad_checkpointing = False
        self.downsample = MllaDownsample(in_dim, dim, channels_last=True) if downsample else nn.Identity()
        scans, d_inner = ScanSource(scan, scan_kwargs), int(ssm_ratio * dim)
        self.blocks = nn.Sequential(*[
            SpatialMambaBlock(dim, scans(d_inner), drop_path=drop_path[i], ssm_ratio=ssm_ratio, **block_kwargs)
            for i in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint_seq(self.blocks, x)
        return self.blocks(x)


# -- model ----------------------------------------------------------------------------------------
class SpatialMamba(HierarchicalBackbone):
    """Spatial-Mamba backbone and classifier (timm conventions; NHWC body, NCHW features).

    Args:
        depths, dims: blocks and widths per stage; an int ``dims`` doubles per stage (official ``dims=64``).
        d_state: SSM state size (released: 1). ssm_ratio: d_inner / dim (official expand 2).
        scan: scan strategy name or instance (default and official: "spatial_fusion"); scan_kwargs: its
            construction arguments (``d_inner`` is filled in per stage for strategies that take it). An
            instance is shared by the blocks of a stage, or deep-copied per block when it has parameters;
            pass a name for strategies whose parameters depend on the stage width (``spatial_fusion``).
        drop_rate: dropout before the classifier (timm convention; the official model applies it after the
            stem instead; every released config uses 0).
        norm_eps: LayerNorm epsilon (official nn.LayerNorm default 1e-5).
        backend: selective-scan backend ("auto", "ref", "torch", "numba", "triton").
    """

    body_fmt = "NHWC"
    intermediate_fmts = ("NCHW", "NHWC")

    def __init__(
            self,
            in_chans: int = 3,
            num_classes: int = 1000,
            global_pool: str = "avg",
            depths: Sequence[int] = (2, 4, 8, 4),
            dims: Union[int, Sequence[int]] = 64,
            d_state: int = 1,
            ssm_ratio: float = 2.0,
            dt_rank: Union[int, str] = "auto",
            mlp_ratio: float = 4.0,
            scan: Union[str, nn.Module] = "spatial_fusion",
            scan_kwargs: Optional[Mapping[str, Any]] = None,
            drop_rate: float = 0.0,
            drop_path_rate: float = 0.2,
            norm_eps: float = 1e-5,
            backend: str = "auto",
    ):
        super().__init__()
        dims = stage_dims(dims, len(depths))
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.dims = dims
        self.num_features = self.head_hidden_size = dims[-1]
        self.output_fmt = "NHWC"
        self.grad_checkpointing = False
        self.scan_name = scan if isinstance(scan, str) else type(scan).__name__

        self.stem = MllaStem(in_chans, dims[0], channels_last=True)
        dpr = drop_path_rates(drop_path_rate, sum(depths))
        stages = []
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            stages.append(SpatialMambaStage(
                dims[max(i - 1, 0)], dim, depth, downsample=i > 0, drop_path=dpr[sum(depths[:i]):sum(depths[:i + 1])],
                mlp_ratio=mlp_ratio, norm_eps=norm_eps, d_state=d_state, ssm_ratio=ssm_ratio, dt_rank=dt_rank,
                scan=scan, scan_kwargs=scan_kwargs, backend=backend))
        self.feature_info = stage_feature_info(dims)
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(self.num_features, eps=norm_eps)  # per token, before pooling (official)
        self.head = ClassifierHead(self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate,
                                   input_fmt="NHWC")
        self.apply(init_weights)  # official: Linear trunc_normal(0.02), zero bias; LayerNorm ones/zeros


# -- official checkpoints -------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: Mapping, model: Optional[nn.Module] = None) -> Dict[str, torch.Tensor]:
    """Official Spatial-Mamba checkpoints (``{'model': ...}``, ``module.`` prefixes) → ours; ours pass unchanged."""
    state_dict = unwrap_state_dict(state_dict)
    if "stem.conv1.conv.weight" in state_dict:
        return checked_weights({legacy_key(k): v for k, v in state_dict.items()}, model)
    return checked_weights(convert_official(state_dict), model)


_RELEASED = {  # variant → (dims[0], depths), classification/configs/spatialmamba/*.yaml
    "spatial_mamba_tiny": (64, (2, 4, 8, 4)),
    "spatial_mamba_small": (64, (2, 4, 21, 5)),
    "spatial_mamba_base": (96, (2, 4, 21, 5)),
}


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Name the released variant an (official or our) state dict looks like, from its widths and depths."""
    sd = checkpoint_filter_fn(state_dict)
    dim = sd["stem.conv3.1.conv.weight"].shape[0]
    depths: Dict[int, int] = {}
    for k in sd:
        m = re.match(r"^stages\.(\d+)\.blocks\.(\d+)\.", k)
        if m:
            depths[int(m.group(1))] = max(depths.get(int(m.group(1)), 0), int(m.group(2)) + 1)
    depths_t = tuple(depths[i] for i in sorted(depths))
    for name, (d, dep) in _RELEASED.items():
        if (d, dep) == (dim, depths_t):
            return name
    return f"a custom Spatial-Mamba (dims={dim}, depths={list(depths_t)})"


# -- timm registration ----------------------------------------------------------------------------
def _cfg(**kwargs) -> Dict[str, Any]:
    return {
        "url": "", "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7), "crop_pct": 0.875,
        "interpolation": "bicubic", "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stem.conv1.conv", "classifier": "head.fc", "license": "apache-2.0",
        "paper_ids": "arXiv:2410.15091", "paper_name": "Spatial-Mamba: Effective Visual State Space Models via "
                                                      "Structure-Aware State Fusion",
        **kwargs,
    }


_DRIVE_NOTE = ("Official ImageNet-1k weights are on Google Drive (no direct-download URL): download the file from "
               "origin_url and load it with pretrained=True, pretrained_cfg_overlay=dict(file=path).")

default_cfgs = generate_default_cfgs({
    "spatial_mamba_tiny.in1k": _cfg(
        origin_url="https://drive.google.com/file/d/19kXoqGSTuKKs4AHbdUSrdKZTwTWenLIW/view", notes=(_DRIVE_NOTE,)),
    "spatial_mamba_small.in1k": _cfg(
        origin_url="https://drive.google.com/file/d/1Wb3sYoWLpgmWrmHMYKwdgDwGPZaqM28O/view", notes=(_DRIVE_NOTE,)),
    "spatial_mamba_base.in1k": _cfg(
        origin_url="https://drive.google.com/file/d/1k8dHp2QRCOqBSgAi36YkhZp_O8LqOPjM/view", notes=(_DRIVE_NOTE,)),
    "test_spatial_mamba": _cfg(origin_url="https://github.com/EdwardChasel/Spatial-Mamba", **TEST_CFG),
})


def _create(variant: str, pretrained: bool = False, **kwargs) -> SpatialMamba:
    return build_model_with_cfg(
        SpatialMamba, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg={"out_indices": (0, 1, 2, 3), "feature_cls": "getter"}, **kwargs)


@register_model
def spatial_mamba_tiny(pretrained: bool = False, **kwargs) -> SpatialMamba:
    """Spatial-Mamba-T: dims 64, depths (2, 4, 8, 4), d_state 1, drop_path 0.2 (spatialmamba_tiny.yaml)."""
    args = {"depths": (2, 4, 8, 4), "dims": 64, "d_state": 1, "mlp_ratio": 4.0, "drop_path_rate": 0.2}
    return _create("spatial_mamba_tiny", pretrained, **dict(args, **kwargs))


@register_model
def spatial_mamba_small(pretrained: bool = False, **kwargs) -> SpatialMamba:
    """Spatial-Mamba-S: dims 64, depths (2, 4, 21, 5), d_state 1, drop_path 0.3 (spatialmamba_small.yaml)."""
    args = {"depths": (2, 4, 21, 5), "dims": 64, "d_state": 1, "mlp_ratio": 4.0, "drop_path_rate": 0.3}
    return _create("spatial_mamba_small", pretrained, **dict(args, **kwargs))


@register_model
def spatial_mamba_base(pretrained: bool = False, **kwargs) -> SpatialMamba:
    """Spatial-Mamba-B: dims 96, depths (2, 4, 21, 5), d_state 1, drop_path 0.5 (spatialmamba_base.yaml)."""
    args = {"depths": (2, 4, 21, 5), "dims": 96, "d_state": 1, "mlp_ratio": 4.0, "drop_path_rate": 0.5}
    return _create("spatial_mamba_base", pretrained, **dict(args, **kwargs))


# Shrunk configs for the shared timm-invariant tests (same architecture, fewer/narrower blocks).
SMALL_TEST_CONFIGS = {
    "spatial_mamba_tiny": {"depths": (1, 1, 2, 1), "dims": 16},
    "spatial_mamba_small": {"depths": (1, 1, 3, 1), "dims": 16},
    "spatial_mamba_base": {"depths": (1, 1, 3, 1), "dims": 24},
}


@register_model
def test_spatial_mamba(pretrained: bool = False, **kwargs) -> SpatialMamba:
    """Tiny Spatial-Mamba for tests: dims 16, depths (1, 1, 2, 1), state fusion, no weights."""
    args = {"depths": (1, 1, 2, 1), "dims": 16, "d_state": 1, "mlp_ratio": 4.0, "drop_path_rate": 0.1}
    return _create("test_spatial_mamba", pretrained, **dict(args, **kwargs))
