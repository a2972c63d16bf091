"""VMamba: Visual State Space Model, in timm style.

Paper: "VMamba: Visual State Space Model", Liu et al., 2024 (arXiv:2401.10166).
Original code: https://github.com/MzeroMiko/VMamba (MIT). Re-written for visionssm: the token mixer is the
scan-agnostic ``visionssm.layers.SS2D`` (``scan=`` picks any registered strategy; the default ``cross`` is
VMamba's), the recurrence is ``visionssm.kernels.selective_scan``.

One class covers both released generations:
- vanilla v0 (``vmamba_tiny/small/base``): patch stem (conv 4×4/4 + LN), SS2D with z gate (SiLU), d_state 16,
  ssm_ratio 2, conv bias, no MLP, PatchMerging downsample, channels-last body;
- v2 (``vmamba_{tiny_s1l8,small_s2l15,...}``): overlapping conv stem (two 3×3/2 convs), SS2D ``v05_noz``
  (no z, conv without bias), d_state 1, MLP ratio 4, conv 3×3/2 downsample, channels-first (LN2d) body.
Loading official checkpoints (``checkpoint_filter_fn``, ``from_official``) reproduces the official logits
(tests/models/test_vmamba.py: fixtures from the official code, atol/rtol 1e-4).
"""
from typing import Any, Dict, Final, Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import ClassifierHead, DropPath, Mlp, register_notrace_module, trunc_normal_
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._manipulate import checkpoint_seq
from torch import nn

from visionssm.convert.common import pretrained_source, unwrap_state_dict
from visionssm.convert.vmamba import check_loadable, convert_vmamba_state_dict, describe_official_state_dict
from visionssm.layers.norms import LayerNorm2d, channel_norm, nchw_to_nhwc, nhwc_to_nchw
from visionssm.layers.ss2d import SS2D
from visionssm.scans import ScanSource, ScanStrategy

from ._hierarchical import HierarchicalBackbone, drop_path_rates, init_weights, stage_dims, stage_feature_info
from ._test_variants import TEST_CFG

__all__ = ["VMamba", "VSSBlock", "VMambaStage", "checkpoint_filter_fn"]

_ACT_LAYERS = {"silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def _act(layer):
    return _ACT_LAYERS[layer.lower()] if isinstance(layer, str) else layer


class Stem(nn.Module):
    """Patch embedding to stride ``patch_size``; output NCHW.

    "patch" (v1): conv k=p, s=p → LN.  "overlap" (v2): conv 3×3/2 → LN → GELU → conv 3×3/2 → LN
    (for patch_size p: stride p/2, kernel p/2 + 1).
    """
    single_conv: Final[bool]

    def __init__(self, in_chans: int, dim: int, patch_size: int = 4, stem_type: str = "patch", norm: bool = True,
                 norm_eps: float = 1e-5):
        super().__init__()
        self.stem_type = stem_type
        self.single_conv = stem_type == "patch"
        if stem_type == "patch":
            self.conv = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)
            self.norm = LayerNorm2d(dim, eps=norm_eps) if norm else nn.Identity()
        elif stem_type == "overlap":
            stride = patch_size // 2
            self.conv1 = nn.Conv2d(in_chans, dim // 2, kernel_size=stride + 1, stride=stride, padding=1)
            self.norm1 = LayerNorm2d(dim // 2, eps=norm_eps) if norm else nn.Identity()
            self.act = nn.GELU()
            self.conv2 = nn.Conv2d(dim // 2, dim, kernel_size=stride + 1, stride=stride, padding=1)
            self.norm2 = LayerNorm2d(dim, eps=norm_eps) if norm else nn.Identity()
        else:
            raise ValueError(f"stem_type must be 'patch' (v1) or 'overlap' (v2), got {stem_type!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.single_conv:  # a Final bool: TorchScript compiles only the branch this instance has
            return self.norm(self.conv(x))
        return self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))


@register_notrace_module  # a leaf for torch.fx: it pads odd sizes
class PatchMerging(nn.Module):
    """Swin/VMamba-v0 downsample: 2×2 neighbours concatenated [(0,0), (1,0), (0,1), (1,1)] → LN(4C) → Linear.

    Odd sizes are zero-padded at the bottom/right first (as the official classification code does).
    NCHW in and out.
    """

    def __init__(self, dim: int, out_dim: int, norm_eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=norm_eps)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        x = nchw_to_nhwc(x)
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return nhwc_to_nchw(self.reduction(self.norm(x)))


class ConvDownsample(nn.Module):
    """VMamba-v2 downsample: conv (3×3/2 pad 1, "conv3" = v3; 2×2/2, "conv2" = v2) → LN2d. NCHW in and out."""

    def __init__(self, dim: int, out_dim: int, kernel_size: int = 3, norm_eps: float = 1e-5):
        super().__init__()
        self.conv = nn.Conv2d(dim, out_dim, kernel_size=kernel_size, stride=2, padding=(kernel_size - 1) // 2)
        self.norm = LayerNorm2d(out_dim, eps=norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


def _make_downsample(kind: str, dim: int, out_dim: int, norm_eps: float) -> nn.Module:
    if kind == "merge":
        return PatchMerging(dim, out_dim, norm_eps)
    if kind in ("conv2", "conv3"):
        return ConvDownsample(dim, out_dim, kernel_size=int(kind[-1]), norm_eps=norm_eps)
    raise ValueError(f"downsample_type must be 'merge' (v1), 'conv2' (v2) or 'conv3' (v3), got {kind!r}")


class VSSBlock(nn.Module):
    """Pre-norm residual block: ``x + dp(SS2D(norm1(x)))``, then ``x + dp(Mlp(norm2(x)))`` if mlp_ratio > 0."""

    def __init__(self, dim: int, channels_first: bool, drop_path: float = 0.0, mlp_ratio: float = 4.0,
                 mlp_act_layer=nn.GELU, mlp_drop_rate: float = 0.0, norm_eps: float = 1e-5, **ss2d_kwargs):
        super().__init__()
        self.norm1 = channel_norm(dim, channels_first, eps=norm_eps)
        self.mixer = SS2D(dim, channels_first=channels_first, norm_eps=norm_eps, **ss2d_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.has_mlp = mlp_ratio > 0
        if self.has_mlp:
            self.norm2 = channel_norm(dim, channels_first, eps=norm_eps)
            self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=mlp_act_layer, drop=mlp_drop_rate,
                           use_conv=channels_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.mixer(self.norm1(x)))
        if self.has_mlp:
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class VMambaStage(nn.Module):
    """Optional downsample, then blocks. NCHW in and out; the blocks run NHWC when ``channels_first`` is False.

    ``scans``: a ``ScanSource`` giving each block its scan strategy for its inner width.
    """

    def __init__(self, in_dim: int, dim: int, depth: int, downsample: Optional[str], channels_first: bool,
                 drop_path_rates: Sequence[float], scans, norm_eps: float = 1e-5, **block_kwargs):
        super().__init__()
        self.channels_first = channels_first
        self.grad_checkpointing = False
        self.downsample = _make_downsample(downsample, in_dim, dim, norm_eps) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[
            VSSBlock(dim, channels_first, drop_path=drop_path_rates[j], norm_eps=norm_eps,
                     scan=scans(int(block_kwargs["ssm_ratio"] * dim)), **block_kwargs)
            for j in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if not self.channels_first:
            x = nchw_to_nhwc(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        if not self.channels_first:
            x = nhwc_to_nchw(x)
        return x


class VMamba(HierarchicalBackbone):
    """VMamba backbone / classifier (vanilla v0 and v2 in one class); timm API from ``HierarchicalBackbone``.

    Args:
        in_chans, num_classes, global_pool, drop_rate: as timm.
        depths, dims: blocks and channels per stage (an int ``dims`` doubles per stage, as VSSM).
        patch_size: stem stride. stem_type: "patch" (v1) | "overlap" (v2).
        downsample_type: "merge" (PatchMerging, v1) | "conv2" (v2) | "conv3" (v3).
        channels_first: run blocks NCHW with LN2d and 1×1 convs (v2 ``ln2d``) or NHWC (v0 ``ln``). Stage
            outputs and features are NCHW either way.
        patch_norm: LN in the stem.
        d_state, ssm_ratio, dt_rank, d_conv, conv_bias, gate, out_norm, ssm_act_layer, ssm_drop_rate: SS2D options.
        scan, scan_kwargs: scan strategy (registered name or instance); default VMamba's "cross".
        backend: selective-scan backend ("auto", "ref", "torch", "numba", "triton").
        mlp_ratio, mlp_act_layer, mlp_drop_rate: block MLP (mlp_ratio 0 = no MLP, as v0).
        drop_path_rate: stochastic depth, linear over all blocks.
    """

    final_norm_name = "norm_pre"

    def __init__(
            self,
            in_chans: int = 3,
            num_classes: int = 1000,
            global_pool: str = "avg",
            depths: Sequence[int] = (2, 2, 9, 2),
            dims: Union[int, Sequence[int]] = 96,
            patch_size: int = 4,
            stem_type: str = "patch",
            downsample_type: str = "merge",
            channels_first: bool = False,
            patch_norm: bool = True,
            d_state: int = 16,
            ssm_ratio: float = 2.0,
            dt_rank: Union[int, str] = "auto",
            d_conv: int = 3,
            conv_bias: bool = True,
            gate: str = "silu",
            out_norm: bool = True,
            ssm_act_layer: Any = "silu",
            ssm_drop_rate: float = 0.0,
            scan: Union[str, ScanStrategy] = "cross",
            scan_kwargs: Optional[Dict[str, Any]] = None,
            backend: str = "auto",
            mlp_ratio: float = 0.0,
            mlp_act_layer: Any = "gelu",
            mlp_drop_rate: float = 0.0,
            drop_rate: float = 0.0,
            drop_path_rate: float = 0.1,
            norm_eps: float = 1e-5,
    ):
        super().__init__()
        num_stages = len(depths)
        dims = stage_dims(dims, num_stages)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.global_pool = global_pool
        self.stem_type, self.downsample_type = stem_type, downsample_type
        self.channels_first = channels_first

        self.stem = Stem(in_chans, dims[0], patch_size, stem_type, norm=patch_norm, norm_eps=norm_eps)
        dpr = drop_path_rates(drop_path_rate, sum(depths))
        scans = ScanSource(scan, scan_kwargs)
        block_kwargs = {
            "d_state": d_state, "ssm_ratio": ssm_ratio, "dt_rank": dt_rank, "d_conv": d_conv, "conv_bias": conv_bias,
            "gate": gate, "out_norm": out_norm, "act_layer": _act(ssm_act_layer), "dropout": ssm_drop_rate,
            "backend": backend, "mlp_ratio": mlp_ratio, "mlp_act_layer": _act(mlp_act_layer),
            "mlp_drop_rate": mlp_drop_rate,
        }
        stages = []
        for i in range(num_stages):
            stages.append(VMambaStage(
                dims[max(i - 1, 0)], dims[i], depths[i], downsample=downsample_type if i > 0 else None,
                channels_first=channels_first, drop_path_rates=dpr[sum(depths[:i]):sum(depths[:i + 1])],
                scans=scans, norm_eps=norm_eps, **block_kwargs))
        self.feature_info = stage_feature_info(dims, first_reduction=patch_size)
        self.stages = nn.Sequential(*stages)
        self.num_features = dims[-1]
        self.norm_pre = LayerNorm2d(self.num_features, eps=norm_eps)  # official classifier.norm (norm → pool → fc)
        self.head = ClassifierHead(self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.num_features
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """As VSSM: Linear (and the 1×1 convs that replace Linear in NCHW bodies) trunc-normal(0.02), bias 0."""
        pointwise = isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.groups == 1
        if isinstance(m, nn.Linear) or pointwise:
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        else:
            init_weights(m)  # LayerNorm ones / zeros


# -- checkpoints ------------------------------------------------------------------------------------

def guess_variant(state_dict: Mapping) -> str:
    """Name the registered variant (or describe the architecture) an official or converted state dict holds."""
    info = describe_official_state_dict(unwrap_state_dict(state_dict))
    for name, cfg in _VARIANTS.items():
        dims = cfg["dims"]
        dim0 = dims if isinstance(dims, int) else dims[0]
        if (tuple(cfg["depths"]) == info.get("depths") and dim0 == info.get("dims")
                and cfg["d_state"] == info.get("d_state") and float(cfg["ssm_ratio"]) == info.get("ssm_ratio")
                and (cfg["mlp_ratio"] > 0) == info["mlp"]):
            return f"{name} (depths={info['depths']}, dims={info['dims']})"
    desc = ", ".join(f"{k}={v}" for k, v in info.items())
    return f"no registered VMamba variant; VMamba {info['generation']} with {desc}"


def checkpoint_filter_fn(state_dict: Mapping, model: VMamba) -> Dict[str, torch.Tensor]:
    """Official VMamba checkpoints (any released layout, legacy v0 names, ``module.`` prefixes, {'model'} containers)
    → this model's keys. Raises with the first missing/unexpected keys and the variant the checkpoint looks like."""
    sd = convert_vmamba_state_dict(unwrap_state_dict(state_dict), model)
    first_conv = "stem.conv" if model.stem_type == "patch" else "stem.conv1"
    check_loadable(model, sd, f"VMamba {pretrained_source(model)}", guess_variant(sd), in_chans_conv=first_conv)
    return sd


# -- registry ---------------------------------------------------------------------------------------

_V0 = {"dims": 96, "d_state": 16, "ssm_ratio": 2.0, "d_conv": 3, "conv_bias": True, "gate": "silu", "mlp_ratio": 0.0,
       "stem_type": "patch", "downsample_type": "merge", "channels_first": False}
_V2 = {"dims": 96, "d_state": 1, "d_conv": 3, "conv_bias": False, "gate": "none", "mlp_ratio": 4.0,
       "stem_type": "overlap", "downsample_type": "conv3", "channels_first": True}

# arguments of the official builders in MzeroMiko/VMamba vmamba.py (vanilla_vmamba_* and vmamba_*_s*l*)
_VARIANTS: Dict[str, Dict[str, Any]] = {
    "vmamba_tiny": dict(_V0, depths=(2, 2, 9, 2), drop_path_rate=0.2),
    "vmamba_small": dict(_V0, depths=(2, 2, 27, 2), drop_path_rate=0.3),
    "vmamba_base": dict(_V0, depths=(2, 2, 27, 2), dims=128, drop_path_rate=0.6),
    "vmamba_tiny_s2l5": dict(_V2, depths=(2, 2, 5, 2), ssm_ratio=2.0, drop_path_rate=0.2),
    "vmamba_small_s2l15": dict(_V2, depths=(2, 2, 15, 2), ssm_ratio=2.0, drop_path_rate=0.3),
    "vmamba_base_s2l15": dict(_V2, depths=(2, 2, 15, 2), dims=128, ssm_ratio=2.0, drop_path_rate=0.6),
    "vmamba_tiny_s1l8": dict(_V2, depths=(2, 2, 8, 2), ssm_ratio=1.0, drop_path_rate=0.2),
    "vmamba_small_s1l20": dict(_V2, depths=(2, 2, 20, 2), ssm_ratio=1.0, drop_path_rate=0.3),
    "vmamba_base_s1l20": dict(_V2, depths=(2, 2, 20, 2), dims=128, ssm_ratio=1.0, drop_path_rate=0.5),
}


# small configurations of every variant (architecture kept: stem, downsample, gate, d_state, ratio, MLP)
SMALL_TEST_CONFIGS = {name: {"depths": (1, 1, 2, 1), "dims": 16} for name in _VARIANTS}

_URL = "https://github.com/MzeroMiko/VMamba/releases/download/"
_RELEASES = {
    "vmamba_tiny": "%23v0cls/vssmtiny_dp01_ckpt_epoch_292.pth",
    "vmamba_small": "%23v0cls/vssmsmall_dp03_ckpt_epoch_238.pth",
    "vmamba_base": "%23v0cls/vssmbase_dp06_ckpt_epoch_241.pth",
    "vmamba_tiny_s2l5": "%23v2cls/vssm_tiny_0230_ckpt_epoch_262.pth",
    "vmamba_small_s2l15": "%23v2cls/vssm_small_0229_ckpt_epoch_222.pth",
    "vmamba_base_s2l15": "%23v2cls/vssm_base_0229_ckpt_epoch_237.pth",
    "vmamba_tiny_s1l8": "%23v2cls/vssm1_tiny_0230s_ckpt_epoch_264.pth",
    "vmamba_small_s1l20": "%23v2cls/vssm1_small_0229s_ckpt_epoch_240.pth",
    "vmamba_base_s1l20": "%23v2cls/vssm1_base_0229s_ckpt_epoch_225.pth",
}


def _cfg(url: str = "", **kwargs) -> Dict[str, Any]:
    return {
        "url": url, "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7),
        "crop_pct": 0.875, "interpolation": "bicubic", "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stem.conv", "classifier": "head.fc", "license": "mit", "paper_ids": "arXiv:2401.10166",
        "paper_name": "VMamba: Visual State Space Model", "origin_url": "https://github.com/MzeroMiko/VMamba",
        **kwargs,
    }


default_cfgs = generate_default_cfgs({
    f"{name}.in1k": _cfg(
        url=_URL + _RELEASES[name],
        first_conv="stem.conv" if _VARIANTS[name]["stem_type"] == "patch" else "stem.conv1",
        notes=("official ImageNet-1k release. The file is a training checkpoint that also pickles a yacs config, so safe "
               "loading (weights_only=True) refuses it: convert it once (tools/convert.py or "
               "visionssm.convert.from_official) and load the result with pretrained_cfg_overlay=dict(file=...). "
               "The published accuracy is that of its 'model' entry, not 'model_ema' (timm's file loader prefers "
               "'model_ema' when present).",))
    for name in _VARIANTS
})
default_cfgs.update(generate_default_cfgs({"test_vmamba": _cfg(first_conv="stem.conv1", **TEST_CFG)}))
# v2 layout (overlapping stem, conv downsample, no z gate, d_state 1, MLP), two blocks in stage 3
_TEST_ARGS = dict(_V2, depths=(1, 1, 2, 1), dims=16, ssm_ratio=2.0, drop_path_rate=0.1)


def _create_vmamba(variant: str, pretrained: bool = False, **kwargs) -> VMamba:
    model_args = dict(_TEST_ARGS if variant == "test_vmamba" else _VARIANTS[variant])
    model_args.update(kwargs)
    return build_model_with_cfg(
        VMamba, variant, pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg={"out_indices": (0, 1, 2, 3), "flatten_sequential": True},
        **model_args)


@register_model
def vmamba_tiny(pretrained: bool = False, **kwargs) -> VMamba:
    """Vanilla VMamba-T (v0): dims 96, depths (2, 2, 9, 2), d_state 16, no MLP."""
    return _create_vmamba("vmamba_tiny", pretrained, **kwargs)


@register_model
def vmamba_small(pretrained: bool = False, **kwargs) -> VMamba:
    """Vanilla VMamba-S (v0): dims 96, depths (2, 2, 27, 2), d_state 16, no MLP."""
    return _create_vmamba("vmamba_small", pretrained, **kwargs)


@register_model
def vmamba_base(pretrained: bool = False, **kwargs) -> VMamba:
    """Vanilla VMamba-B (v0): dims 128, depths (2, 2, 27, 2), d_state 16, no MLP."""
    return _create_vmamba("vmamba_base", pretrained, **kwargs)


@register_model
def vmamba_tiny_s2l5(pretrained: bool = False, **kwargs) -> VMamba:
    """VMamba-T[s2l5] (v2; detection/segmentation 'tiny1'): dims 96, depths (2, 2, 5, 2), ssm_ratio 2."""
    return _create_vmamba("vmamba_tiny_s2l5", pretrained, **kwargs)


@register_model
def vmamba_small_s2l15(pretrained: bool = False, **kwargs) -> VMamba:
    """VMamba-S[s2l15] (v2, headline small): dims 96, depths (2, 2, 15, 2), ssm_ratio 2."""
    return _create_vmamba("vmamba_small_s2l15", pretrained, **kwargs)


@register_model
def vmamba_base_s2l15(pretrained: bool = False, **kwargs) -> VMamba:
    """VMamba-B[s2l15] (v2, headline base): dims 128, depths (2, 2, 15, 2), ssm_ratio 2."""
    return _create_vmamba("vmamba_base_s2l15", pretrained, **kwargs)


@register_model
def vmamba_tiny_s1l8(pretrained: bool = False, **kwargs) -> VMamba:
    """VMamba-T[s1l8] (v2, headline tiny; detection/segmentation 'tiny'): dims 96, depths (2, 2, 8, 2), ssm_ratio 1."""
    return _create_vmamba("vmamba_tiny_s1l8", pretrained, **kwargs)


@register_model
def vmamba_small_s1l20(pretrained: bool = False, **kwargs) -> VMamba:
    """VMamba-S[s1l20] (v2): dims 96, depths (2, 2, 20, 2), ssm_ratio 1."""
    return _create_vmamba("vmamba_small_s1l20", pretrained, **kwargs)


@register_model
def vmamba_base_s1l20(pretrained: bool = False, **kwargs) -> VMamba:
    """VMamba-B[s1l20] (v2): dims 128, depths (2, 2, 20, 2), ssm_ratio 1."""
    return _create_vmamba("vmamba_base_s1l20", pretrained, **kwargs)


@register_model
def test_vmamba(pretrained: bool = False, **kwargs) -> VMamba:
    """Tiny VMamba-v2 for tests: dims 16, depths (1, 1, 2, 1), 64×64 input, no weights."""
    return _create_vmamba("test_vmamba", pretrained, **kwargs)
