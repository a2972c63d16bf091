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

from visionssm.convert import register_family, unwrap_state_dict
from visionssm.convert.registry import FamilyConverter
from visionssm.layers import SS2D
from visionssm.layers.mlla_block import MllaBlock
from visionssm.layers.stems import MllaDownsample, MllaStem
from visionssm.scans import ScanSource

from ._hierarchical import HierarchicalBackbone, drop_path_rates, init_weights, stage_dims, stage_feature_info

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
_FUSION_KERNELS = ("kernel_3", "kernel_3_1", "kernel_3_2")  # dilations 1, 3, 5


def _convert_official(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official ``SpatialMamba`` keys → ours (stage-leading downsample, stacked fusion kernels, K = 1 axes)."""
    out: Dict[str, torch.Tensor] = {}
    fusion: Dict[str, Dict[str, torch.Tensor]] = {}
    for k, v in state_dict.items():
        k = re.sub(r"^patch_embed\.", "stem.", k)  # MLLA stem / downsample: same child names as ours
        k = re.sub(r"^layers\.(\d+)\.downsample\.", lambda m: f"stages.{int(m.group(1)) + 1}.downsample.", k)
        k = re.sub(r"^layers\.(\d+)\.blocks\.", r"stages.\1.blocks.", k)
        k = k.replace(".ln_1.", ".norm1.").replace(".ln_2.", ".norm2.")
        if ".self_attention." in k:
            prefix, name = k.split(".self_attention.")
            mixer = f"{prefix}.mixer"
            if name.startswith("state_fusion."):
                fusion.setdefault(mixer, {})[name[len("state_fusion."):]] = v
                continue
            if name in ("x_proj_weight", "dt_projs_weight", "dt_projs_bias"):
                k, v = f"{mixer}.ssm.{name}", v.unsqueeze(0)
            elif name in ("A_logs", "Ds"):
                k = f"{mixer}.ssm.{name}"
            else:
                k = f"{mixer}.{name.replace('conv2d.', 'conv.')}"
        elif k.startswith("head."):
            k = "head.fc." + k[len("head."):]
        out[k] = v
    for mixer, parts in fusion.items():
        missing = [n for n in (*_FUSION_KERNELS, "alpha") if n not in parts]
        if missing:
            raise KeyError(f"official checkpoint: {mixer} state_fusion lacks {missing}")
        out[f"{mixer}.scan.kernels"] = torch.stack([parts[n] for n in _FUSION_KERNELS])
        out[f"{mixer}.scan.alpha"] = parts["alpha"]
    return out


def checkpoint_filter_fn(state_dict: Mapping, model: Optional[nn.Module] = None) -> Dict[str, torch.Tensor]:
    """Official Spatial-Mamba checkpoints (``{'model': ...}``, ``module.`` prefixes) → ours; ours pass unchanged."""
    state_dict = unwrap_state_dict(state_dict)
    if "stem.conv1.conv.weight" in state_dict:
        return {_legacy_key(k): v for k, v in state_dict.items()}
    return _convert_official(state_dict)


_LEGACY_DOWNSAMPLE = {"expand.": "conv.0.conv.", "dw.": "conv.1.conv.", "proj.conv.": "conv.2.conv.",
                      "proj.bn.": "conv.2.norm."}


def _legacy_key(k: str) -> str:
    """Keys of checkpoints converted before the stem moved to ``visionssm.layers.stems`` (``bn``, named convs)."""
    if k.startswith("stem.") and ".bn." in k:
        return k.replace(".bn.", ".norm.")
    m = re.match(r"^(stages\.\d+\.downsample\.)(expand\.|dw\.|proj\.conv\.|proj\.bn\.)(.+)$", k)
    return m.group(1) + _LEGACY_DOWNSAMPLE[m.group(2)] + m.group(3) if m else k


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


_OFFICIAL_KWARGS = {"in_chans", "num_classes", "depths", "dims", "d_state", "mlp_ratio", "drop_rate",
                    "drop_path_rate", "patch_size", "img_size", "dt_init", "attn_drop_rate", "norm_layer",
                    "patch_norm", "use_checkpoint"}


def build_from_official(kwargs: Mapping[str, Any]) -> SpatialMamba:
    """Our model from the official ``SpatialMamba(**kwargs)`` constructor arguments."""
    unknown = set(kwargs) - _OFFICIAL_KWARGS
    if unknown:
        raise ValueError(f"spatial_mamba: unsupported official kwargs {sorted(unknown)}; known: {sorted(_OFFICIAL_KWARGS)}")
    if kwargs.get("patch_size", 4) != 4:
        raise ValueError("spatial_mamba: the official Stem always downsamples by 4; patch_size must be 4")
    if kwargs.get("attn_drop_rate", 0.0):
        raise ValueError("spatial_mamba: attn_drop_rate (dropout after the SSM) is not supported; use 0")
    if kwargs.get("d_state", 1) is None:
        raise ValueError("spatial_mamba: d_state=None (ceil(dims[0] / 6)) is not supported; pass an int")
    # img_size only sizes unused attributes; dt_init only changes the initialisation the checkpoint replaces.
    return SpatialMamba(
        in_chans=kwargs.get("in_chans", 3), num_classes=kwargs.get("num_classes", 1000),
        depths=tuple(kwargs.get("depths", (2, 2, 9, 2))), dims=kwargs.get("dims", (96, 192, 384, 768)),
        d_state=kwargs.get("d_state", 1), mlp_ratio=kwargs.get("mlp_ratio", 4.0),
        drop_rate=kwargs.get("drop_rate", 0.0), drop_path_rate=kwargs.get("drop_path_rate", 0.1))


register_family(FamilyConverter(
    family="spatial_mamba", build=build_from_official,
    convert=lambda sd, model: checkpoint_filter_fn(sd, model), guess_variant=guess_variant))


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
    # README "Pre-trained Models" table (commit 71221eb): T 83.5, S 84.6, B 85.3 top-1 at 224².
    "spatial_mamba_tiny.in1k": _cfg(
        origin_url="https://drive.google.com/file/d/19kXoqGSTuKKs4AHbdUSrdKZTwTWenLIW/view", notes=(_DRIVE_NOTE,)),
    "spatial_mamba_small.in1k": _cfg(
        origin_url="https://drive.google.com/file/d/1Wb3sYoWLpgmWrmHMYKwdgDwGPZaqM28O/view", notes=(_DRIVE_NOTE,)),
    "spatial_mamba_base.in1k": _cfg(
        origin_url="https://drive.google.com/file/d/1k8dHp2QRCOqBSgAi36YkhZp_O8LqOPjM/view", notes=(_DRIVE_NOTE,)),
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

# Published parameter counts (millions): README "Pre-trained Models" table and paper Table 1
# (arXiv:2410.15091): Spatial-Mamba-T 27M, -S 43M, -B 96M. The official code builds 26.75M / 43.07M / 95.75M.
PUBLISHED_PARAMS = {"spatial_mamba_tiny": 27.0, "spatial_mamba_small": 43.0, "spatial_mamba_base": 96.0}
