"""VSSD: Vision Mamba with Non-Causal State Space Duality — a 4-stage hierarchy of MLLA-style blocks.

Paper: "VSSD: Vision Mamba with Non-Causal State Space Duality", Shu et al., arXiv:2407.18559.
Official code and weights: https://github.com/YuHengsss/VSSD (commit 87b753b3 has no LICENSE file),
checkpoints on https://huggingface.co/YuhengSSS/VSSD.

Stages 1–3 mix tokens with the NC-SSD mixer (``scan='ncssd'``, ``visionssm.layers.ncssd``: Mamba2's projections,
no causal mask and no decay, computed as two matrix products); stage 4 uses standard multi-head
attention. Blocks follow MLLA: x += cpe1(x); x += attn(norm1(x)); x += cpe2(x); x += mlp(norm2(x)).
The convolutional stem and downsampling are MLLA's (shared with Spatial-Mamba).

Map sizes are taken from the tensors, so any input size works (the conv formula ceil(H / 2) per
stride-2 conv, as the official detection backbone computes it). The official classifier tracks H // 4,
then H // 2 per stage, and only runs when the input sides are divisible by 32; on those inputs both
agree exactly.
"""
import math
from typing import Any, Dict, Mapping, Sequence

import torch
import torch.nn.functional as F
from timm.layers import Attention, ClassifierHead
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn
from torch.utils.checkpoint import checkpoint

from visionssm.convert.common import checked_weights, unwrap_state_dict
from visionssm.convert.vssd import convert_official, is_official
from visionssm.layers.mlla_block import MllaBlock
from visionssm.layers.ncssd import NCSSD_NAME, ncssd_mixer
from visionssm.layers.norms import LayerNorm2d
from visionssm.layers.stems import ConvNormAct, MllaDownsample, MllaStem

from ._hierarchical import HierarchicalBackbone, drop_path_rates, init_weights, stage_feature_info
from ._test_variants import TEST_CFG

# MLLA stem / downsampling, shared with Spatial-Mamba (names kept for existing imports)
Stem, Downsample = MllaStem, MllaDownsample

__all__ = ["VSSD", "NonCausalSSDMixer", "checkpoint_filter_fn", "ConvNormAct"]


class NonCausalSSDMixer(nn.Module):
    """VSSD's Mamba2 layer on an NHWC map, with the NC-SSD op (``visionssm.layers.ncssd``).

    in_proj → [z | x | B | C | dt] (no bias); dt = softplus(dt + dt_bias); [x | B | C] → depthwise
    3×3 conv → SiLU; y = ncssd(x, dt, -exp(A_log), B, C, D) per head; LayerNorm(y) · z (z has no
    activation); out_proj.
    """

    def __init__(self, dim: int, num_heads: int, d_state: int = 64, expand: float = 2, ngroups: int = 1,
                 d_conv: int = 3, scan="ncssd", A_init_range=(1, 16), dt_min: float = 0.001, dt_max: float = 0.1,
                 dt_init_floor: float = 1e-4):
        super().__init__()
        self.op = ncssd_mixer(scan)
        self.d_inner = d_inner = int(expand * dim)
        if d_inner % num_heads:
            raise ValueError(f"d_inner {d_inner} is not divisible by {num_heads} heads")
        self.num_heads, self.head_dim, self.d_state, self.ngroups = num_heads, d_inner // num_heads, d_state, ngroups
        self.in_proj = nn.Linear(dim, 2 * d_inner + 2 * ngroups * d_state + num_heads, bias=False)
        conv_dim = d_inner + 2 * ngroups * d_state
        self.conv = nn.Conv2d(conv_dim, conv_dim, d_conv, padding=(d_conv - 1) // 2, groups=conv_dim)
        self.dt_bias = nn.Parameter(torch.empty(num_heads))
        self.A_log = nn.Parameter(torch.empty(num_heads))
        self.D = nn.Parameter(torch.ones(num_heads))
        self.norm = nn.LayerNorm(d_inner)
        self.out_proj = nn.Linear(d_inner, dim, bias=False)
        self._init = (A_init_range, dt_min, dt_max, dt_init_floor)
        self.reset_ssm_parameters()

    @torch.no_grad()
    def reset_ssm_parameters(self) -> None:
        """Mamba2 init: dt log-uniform in [dt_min, dt_max] via inverse softplus; A ~ U(A_init_range)."""
        (a_lo, a_hi), dt_min, dt_max, floor = self._init
        dt = torch.exp(torch.rand(self.num_heads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=floor)
        self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log.copy_(torch.empty(self.num_heads).uniform_(a_lo, a_hi).log())
        self.D.fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        Bsz, H, W, _ = x.shape
        d, g, n, h = self.d_inner, self.ngroups, self.d_state, self.num_heads
        z, xbc, dt = torch.split(self.in_proj(x), [d, d + 2 * g * n, h], dim=-1)
        dt = F.softplus(dt + self.dt_bias)
        xbc = F.silu(self.conv(xbc.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)
        xs, Bs, Cs = torch.split(xbc, [d, g * n, g * n], dim=-1)
        L = H * W
        y = self.op(xs.reshape(Bsz, L, h, self.head_dim), dt.reshape(Bsz, L, h), -torch.exp(self.A_log),
                    Bs.reshape(Bsz, L, g, n), Cs.reshape(Bsz, L, g, n), self.D)
        y = self.norm(y.reshape(Bsz, H, W, d)) * z
        return self.out_proj(y)


class SelfAttention(nn.Module):
    """Standard multi-head self-attention on an NHWC map (VSSD's last stage): qkv without bias."""

    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=False, proj_bias=True, attn_drop=attn_drop,
                              proj_drop=proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        Bsz, H, W, C = x.shape
        return self.attn(x.reshape(Bsz, H * W, C)).reshape(Bsz, H, W, C)


class VSSDBlock(MllaBlock):
    """MLLA block on NHWC: x += cpe1(x); x += dp(mixer(norm1(x))); x += cpe2(x); x += dp(mlp(norm2(x)))."""

    def __init__(self, dim: int, mixer: nn.Module, mlp_ratio: float = 4.0, drop: float = 0.0, drop_path: float = 0.0):
        super().__init__(dim, mixer, mlp_ratio, drop=drop, drop_path=drop_path)


class VSSDStage(nn.Module):
    """Optional downsample (NCHW), then blocks on NHWC; returns NCHW."""

    def __init__(self, dim: int, out_dim: int, depth: int, num_heads: int, attn_type: str, downsample: bool,
                 d_state: int, expand: float, ngroups: int, mlp_ratio: float, drop: float,
                 drop_path: Sequence[float], scan="ncssd"):
        super().__init__()
        self.downsample = MllaDownsample(dim, out_dim) if downsample else nn.Identity()
        self.grad_checkpointing = False

        def mixer():
            if attn_type == "standard":
                return SelfAttention(out_dim, num_heads, proj_drop=drop)
            if attn_type == "mamba2":
                return NonCausalSSDMixer(out_dim, num_heads, d_state=d_state, expand=expand, ngroups=ngroups, scan=scan)
            raise ValueError(f"unknown attn_type {attn_type!r}; VSSD stages are 'mamba2' or 'standard'")

        self.blocks = nn.ModuleList([VSSDBlock(out_dim, mixer(), mlp_ratio, drop, drop_path[i]) for i in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x).permute(0, 2, 3, 1)
        for blk in self.blocks:
            if self.grad_checkpointing and not torch.jit.is_scripting() and x.requires_grad:
                x = checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return x.permute(0, 3, 1, 2)


class VSSD(HierarchicalBackbone):
    """VSSD.

    Args:
        embed_dim: stage-1 width (doubles per stage). depths, num_heads: per stage.
        d_state: N of the NC-SSD. expand: d_inner / dim (``ssd_expansion``). ngroups: B/C groups.
        attn_types: per stage 'mamba2' (NC-SSD) or 'standard' (attention); official: 3× mamba2 + standard.
        scan: the token mixer of the 'mamba2' stages: 'ncssd' or a ``visionssm.layers.ncssd.NonCausalSSD``.
        global_pool: 'avg' (official) or ''.
    """

    no_weight_decay_suffixes = ("mixer.A_log", "mixer.D", "mixer.dt_bias")  # Mamba2's ``_no_weight_decay``

    def __init__(
            self,
            in_chans: int = 3,
            num_classes: int = 1000,
            global_pool: str = "avg",
            embed_dim: int = 64,
            depths: Sequence[int] = (2, 4, 8, 4),
            num_heads: Sequence[int] = (2, 4, 8, 16),
            d_state: int = 64,
            expand: float = 2,
            ngroups: int = 1,
            mlp_ratio: float = 4.0,
            attn_types: Sequence[str] = ("mamba2", "mamba2", "mamba2", "standard"),
            scan="ncssd",
            drop_rate: float = 0.0,
            drop_path_rate: float = 0.2,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_stages = len(depths)
        dims = [int(embed_dim * 2 ** i) for i in range(self.num_stages)]
        self.num_features = self.head_hidden_size = dims[-1]
        self.scan_name = scan if isinstance(scan, str) else NCSSD_NAME
        self.stem = MllaStem(in_chans, embed_dim)
        dpr = drop_path_rates(drop_path_rate, sum(depths))
        stages = []
        for i in range(self.num_stages):
            stages.append(VSSDStage(
                dims[max(i - 1, 0)], dims[i], depths[i], num_heads[i], attn_types[i], downsample=i > 0,
                d_state=d_state, expand=expand, ngroups=ngroups, mlp_ratio=mlp_ratio, drop=drop_rate,
                drop_path=dpr[sum(depths[:i]):sum(depths[:i + 1])], scan=scan))
        self.feature_info = stage_feature_info(dims)
        self.stages = nn.Sequential(*stages)
        self.norm = LayerNorm2d(self.num_features)
        self.head = ClassifierHead(self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.apply(init_weights)


# -- official checkpoints ----------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: Mapping, model: VSSD) -> Dict[str, torch.Tensor]:
    """Official VSSD checkpoints ({'model'}, {'model_ema'}, ``module.``) or ours → our keys."""
    sd = unwrap_state_dict(state_dict)
    return checked_weights(convert_official(sd) if is_official(sd) else dict(sd), model)


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> str:
    sd = convert_official(state_dict) if is_official(state_dict) else state_dict
    w = sd.get("stem.conv1.conv.weight")
    embed = None if w is None else 2 * w.shape[0]
    depths = tuple(len({k.split(".")[3] for k in sd if k.startswith(f"stages.{i}.blocks.")}) for i in range(4))
    known = {(48, (2, 2, 8, 4)): "vssd_micro", (64, (2, 4, 8, 4)): "vssd_tiny", (64, (3, 4, 21, 5)): "vssd_small",
             (96, (3, 4, 21, 5)): "vssd_base"}
    return f"{known.get((embed, depths), 'an unreleased VSSD')} (embed_dim {embed}, depths {list(depths)})"


# -- registry --------------------------------------------------------------------------------------
def _cfg(filename: str = "", **kwargs) -> Dict[str, Any]:
    url = f"https://huggingface.co/YuhengSSS/VSSD/resolve/main/{filename}" if filename else ""
    hub = {"hf_hub_id": "YuhengSSS/VSSD", "hf_hub_filename": filename} if filename else {}
    return {
        "url": url, **hub, "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7),
        "crop_pct": 0.875, "interpolation": "bicubic", "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
        "first_conv": "stem.conv1.conv", "classifier": "head.fc",
        "license": "unknown", "paper_ids": "arXiv:2407.18559", "paper_name": "VSSD",
        "origin_url": "https://github.com/YuHengsss/VSSD", **kwargs,
    }


default_cfgs = generate_default_cfgs({
    "vssd_micro.in1k": _cfg("vssd_micro_best.pth", notes=("VSSD-Micro",)),
    "vssd_tiny.in1k": _cfg("vssd_tiny_best_ema.pth", notes=("VSSD-Tiny, EMA weights",)),
    "vssd_tiny.mesa_in1k": _cfg("vssd_tiny_e300_with_mesa.pth", notes=("VSSD-Tiny trained with MESA",)),
    "vssd_small.in1k": _cfg("vssd_small_best_ema.pth", notes=("VSSD-Small, EMA weights",)),
    "vssd_small.mesa_in1k": _cfg("vssd_small_e300_with_mesa.pth", notes=("VSSD-Small trained with MESA",)),
    "vssd_base.in1k": _cfg("vssd_base_best_ema.pth", notes=("VSSD-Base, EMA weights",)),
    "vssd_base.mesa_in1k": _cfg("vssd_base_e300_with_mesa.pth", notes=("VSSD-Base trained with MESA",)),
    "test_vssd": _cfg(**TEST_CFG),
})


def _create_vssd(variant: str, pretrained: bool = False, **kwargs) -> VSSD:
    out_indices = kwargs.pop("out_indices", (0, 1, 2, 3))
    return build_model_with_cfg(
        VSSD, variant, pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg={"out_indices": out_indices, "flatten_sequential": True},
        **kwargs,
    )


@register_model
def vssd_micro(pretrained: bool = False, **kwargs) -> VSSD:
    """VSSD-Micro (vssd_micro_e300.yaml): embed 48, depths 2-2-8-4, d_state 48, drop path 0.1."""
    args = {"embed_dim": 48, "depths": (2, 2, 8, 4), "num_heads": (2, 4, 8, 16), "d_state": 48, "drop_path_rate": 0.1}
    return _create_vssd("vssd_micro", pretrained, **dict(args, **kwargs))


@register_model
def vssd_tiny(pretrained: bool = False, **kwargs) -> VSSD:
    """VSSD-Tiny (vssd_tiny_e300.yaml): embed 64, depths 2-4-8-4, d_state 64, drop path 0.2."""
    args = {"embed_dim": 64, "depths": (2, 4, 8, 4), "num_heads": (2, 4, 8, 16), "d_state": 64, "drop_path_rate": 0.2}
    return _create_vssd("vssd_tiny", pretrained, **dict(args, **kwargs))


@register_model
def vssd_small(pretrained: bool = False, **kwargs) -> VSSD:
    """VSSD-Small (vssd_small_e300.yaml): embed 64, depths 3-4-21-5, d_state 64, drop path 0.4."""
    args = {"embed_dim": 64, "depths": (3, 4, 21, 5), "num_heads": (2, 4, 8, 16), "d_state": 64, "drop_path_rate": 0.4}
    return _create_vssd("vssd_small", pretrained, **dict(args, **kwargs))


@register_model
def vssd_base(pretrained: bool = False, **kwargs) -> VSSD:
    """VSSD-Base (vssd_base_e300.yaml): embed 96, depths 3-4-21-5, heads 3-6-12-24, d_state 64, drop path 0.6."""
    args = {"embed_dim": 96, "depths": (3, 4, 21, 5), "num_heads": (3, 6, 12, 24), "d_state": 64, "drop_path_rate": 0.6}
    return _create_vssd("vssd_base", pretrained, **dict(args, **kwargs))


SMALL_TEST_CONFIGS = {
    "vssd_micro": {"embed_dim": 16, "depths": (1, 1, 1, 1), "d_state": 8},
    "vssd_tiny": {"embed_dim": 16, "depths": (1, 1, 1, 1), "d_state": 8},
    "vssd_small": {"embed_dim": 16, "depths": (1, 1, 2, 1), "d_state": 8},
    "vssd_base": {"embed_dim": 24, "depths": (1, 1, 1, 1), "d_state": 8},
}


@register_model
def test_vssd(pretrained: bool = False, **kwargs) -> VSSD:
    """Tiny VSSD for tests: embed 16, one block per stage (3× NC-SSD, attention), d_state 8, no weights."""
    args = {"embed_dim": 16, "depths": (1, 1, 1, 1), "num_heads": (2, 4, 8, 16), "d_state": 8, "drop_path_rate": 0.1}
    return _create_vssd("test_vssd", pretrained, **dict(args, **kwargs))
