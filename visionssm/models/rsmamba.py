"""RSMamba: a plain (ViT-like) Mamba for remote-sensing scene classification, with forward, reverse and shuffled paths.

Paper: "RSMamba: Remote Sensing Image Classification with State Space Model", Chen et al., IEEE GRSL 2024,
arXiv:2403.19654. Official code: https://github.com/KyanChen/RSMamba (Apache-2.0), weights on
https://huggingface.co/KyanChen/RSMamba (UC Merced, AID, NWPU-RESISC45 fine-tunes).

16×16 patches at stride 8 (the image is zero-padded bottom/right so the windows cover it: a ceil(H/8) × ceil(W/8)
grid), a learned position embedding, no class token. Each layer normalises the tokens with ONE LayerNorm shared by
all layers, runs one Mamba mixer (one parameter set) along the three orders of the ``shuffle`` scan strategy
(raster, reversed, shuffled), puts each path back in raster order and fuses them with a gate: a softmax over
``Linear(3C → 3)`` of the three paths' token means, per image. The image feature is LayerNorm(mean of the final
normed tokens).

The shuffle: the official code draws ``torch.randperm`` in every layer on every forward, at eval too, so its
predictions are not deterministic. Here training draws fresh permutations as the official code does, while eval
uses one fixed, seeded permutation per layer (layer i: seed ``shuffle_seed + i``); ``shuffle_random_in_eval=True``
restores the official behaviour (and, seeded the same way, reproduces an official forward exactly), and
``set_shuffle_permutations`` fixes the eval permutations explicitly. See ``visionssm/scans/shuffle.py``.

Differences from the official code beyond that: other input sizes work (the position embedding is resampled
bicubically; at the configured size nothing changes), and a freshly built model uses Mamba's dt initialisation
(the official layers keep ``nn.Linear``'s default for ``dt_proj``).
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from timm.layers import DropPath, resample_abs_pos_embed, trunc_normal_
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._features import feature_take_indices
from torch import nn
from torch.utils.checkpoint import checkpoint

from visionssm.convert.common import checked_weights, unwrap_state_dict
from visionssm.convert.rsmamba import convert_official, is_official
from visionssm.kernels import selective_scan
from visionssm.layers.ssm import DirectionalSSM, resolve_dt_rank
from visionssm.scans import get_scan

from ._test_variants import TEST_CFG

__all__ = ["RSMamba", "GatedPathMambaMixer", "checkpoint_filter_fn"]


class CornerPatchEmbed(nn.Module):
    """Conv patch embedding (no bias) that zero-pads bottom/right so that stride-s windows cover the image."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int = 16, stride: int = 8):
        super().__init__()
        self.patch_size, self.stride = patch_size, stride
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=stride, bias=False)

    def grid(self, H: int, W: int) -> Tuple[int, int]:
        return -(-H // self.stride), -(-W // self.stride)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        H, W = x.shape[-2:]
        gh, gw = self.grid(H, W)
        pad_h = max((gh - 1) * self.stride + self.patch_size - H, 0)
        pad_w = max((gw - 1) * self.stride + self.patch_size - W, 0)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[-2], x.shape[-1])


class GatedPathMambaMixer(nn.Module):
    """One Mamba layer (one parameter set) run along the K orders of a permutation scan, fused by a learned gate.

    in_proj → (x, z); per order: causal depthwise conv1d → SiLU → selective scan with D and the silu(z) gate
    (inside the op) → out_proj; back to raster order; out = Σ_k softmax(gate([mean_L y_0, ..., mean_L y_K-1]))_k y_k.
    The K orders run as one batch of B·K sequences through the shared op.

    Args:
        dim: C. d_inner: the Mamba width (RSMamba's ``feedforward_channels``). d_state: N. d_conv: conv width.
        dt_rank: "auto" = ceil(C / 16). scan: a registered permutation strategy (``shuffle``: RSMamba's three
        paths; ``bidirectional``: its forward/reverse variant) or an instance. bias / conv_bias: of the
        projections / the conv. backend: selective-scan backend.
    """

    def __init__(self, dim: int, d_inner: int, d_state: int = 16, d_conv: int = 4, dt_rank="auto", scan="shuffle",
                 bias: bool = False, conv_bias: bool = True, backend: str = "auto"):
        super().__init__()
        self.scan = get_scan(scan, d_inner=d_inner)
        self.num_paths = K = self.scan.num_directions
        self.d_inner, self.backend = d_inner, backend
        self.in_proj = nn.Linear(dim, 2 * d_inner, bias=bias)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1, bias=conv_bias)
        self.ssm = DirectionalSSM(d_inner, d_state, resolve_dt_rank(dt_rank, dim), num_directions=1, backend=backend)
        self.out_proj = nn.Linear(d_inner, dim, bias=bias)
        self.gate = nn.Linear(K * dim, K, bias=False)

    def _orders(self, H: int, W: int, device) -> torch.Tensor:
        orders_fn = getattr(self.scan, "orders", None)  # shuffle: a fresh draw per forward when training
        orders = orders_fn(H, W, device) if orders_fn is not None else self.scan.token_orders(H, W, device)
        if orders.shape != (self.num_paths, H * W):
            raise ValueError(f"scan {self.scan.scan_name!r} gives orders of shape {tuple(orders.shape)} for a {H}x{W} "
                             f"grid; the gated-path mixer needs K permutations of all {H * W} tokens (no padding)")
        return orders

    def forward(self, x: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """x (B, L, C): normed tokens in raster order on ``grid`` → (B, L, C)."""
        Bsz, L, _ = x.shape
        K, d = self.num_paths, self.d_inner
        orders = self._orders(grid[0], grid[1], x.device)
        xz = self.in_proj(x)[:, orders.reshape(-1)]  # (B, K·L, 2d): per-token ops commute with the orders
        xz = xz.view(Bsz, K, L, 2 * d).permute(0, 1, 3, 2).reshape(Bsz * K, 2 * d, L)
        xs, z = xz.chunk(2, dim=1)
        xs = F.silu(self.conv1d(xs)[..., :L])
        delta, Bs, Cs = self.ssm.project(xs.unsqueeze(1))
        A = -torch.exp(self.ssm.A_logs.float())
        y = selective_scan(xs, delta, A, Bs, Cs, self.ssm.Ds.float(), z, self.ssm.dt_projs_bias.reshape(-1).float(),
                           True, backend=self.backend)
        y = self.out_proj(y.transpose(1, 2)).view(Bsz, K, L, -1)  # (B, K, L, C), each path in its own order
        inverse = torch.argsort(orders, dim=1)
        y = torch.gather(y, 2, inverse[None, :, :, None].expand_as(y))  # back to raster order
        gate = self.gate(y.mean(2).reshape(Bsz, -1)).softmax(-1)  # (B, K)
        return torch.einsum("bk,bklc->blc", gate.to(y.dtype), y)


class RSMambaLayer(nn.Module):
    """x ← x + drop_path(mixer(norm(x))), with the norm passed in (RSMamba shares one pre-norm by all layers)."""

    def __init__(self, mixer: GatedPathMambaMixer, drop_path: float = 0.0):
        super().__init__()
        self.mixer = mixer
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, norm: nn.Module, grid: Tuple[int, int]) -> torch.Tensor:
        return x + self.drop_path(self.mixer(norm(x), grid))


class RSMamba(nn.Module):
    """RSMamba classifier / plain backbone (timm API).

    Args:
        img_size: the size the position embedding is learned for. patch_size, stride: of the patch embedding.
        embed_dim: C. depth: number of layers. d_inner: Mamba width (official ``feedforward_channels``, 2C).
        d_state, d_conv, dt_rank: Mamba settings (16, 4, ceil(C/16)). scan: ``shuffle`` (official
        ``forward_reverse_shuffle_gate``) or ``bidirectional`` (``forward_reverse_gate``).
        shuffle_seed: layer i's eval permutation comes from seed ``shuffle_seed + i``.
        shuffle_random_in_eval: the official behaviour (a fresh ``torch.randperm`` at eval too).
        global_pool: 'avg' (mean of the tokens, then ``fc_norm``) or '' (tokens).
    """

    def __init__(self, img_size: Union[int, Tuple[int, int]] = 224, patch_size: int = 16, stride: int = 8,
                 in_chans: int = 3, num_classes: int = 1000, embed_dim: int = 192, depth: int = 24,
                 d_inner: Optional[int] = None, d_state: int = 16, d_conv: int = 4, dt_rank="auto",
                 scan: str = "shuffle", shuffle_seed: int = 0, shuffle_random_in_eval: bool = False,
                 global_pool: str = "avg", drop_rate: float = 0.0, pos_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, norm_eps: float = 1e-6, backend: str = "auto"):
        super().__init__()
        if global_pool not in ("avg", ""):
            raise ValueError(f"RSMamba global_pool must be 'avg' or '', got {global_pool!r}")
        self.num_classes, self.global_pool = num_classes, global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 0
        self.grad_checkpointing = False
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_embed = CornerPatchEmbed(in_chans, embed_dim, patch_size, stride)
        self.grid_size = self.patch_embed.grid(*self.img_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid_size[0] * self.grid_size[1], embed_dim))
        self.pos_drop = nn.Dropout(pos_drop_rate)
        self.pre_norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # no tensors: builds on meta
        d_inner = d_inner or 2 * embed_dim
        self.blocks = nn.ModuleList()
        for i in range(depth):
            scan_i = get_scan(scan, dict(seed=shuffle_seed + i, random_in_eval=shuffle_random_in_eval)) \
                if scan == "shuffle" else scan
            mixer = GatedPathMambaMixer(embed_dim, d_inner, d_state, d_conv, dt_rank, scan_i, backend=backend)
            self.blocks.append(RSMambaLayer(mixer, dpr[i]))
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)  # official ln1
        self.fc_norm = nn.LayerNorm(embed_dim, eps=norm_eps)  # official ln2 (on the token mean)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.feature_info = [dict(num_chs=embed_dim, reduction=stride, module=f"blocks.{i}") for i in range(depth)]
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        trunc_normal_(self.pos_embed, std=0.02)
        nn.init.kaiming_normal_(self.patch_embed.proj.weight, mode="fan_in", nonlinearity="linear")
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def set_shuffle_permutations(self, permutations: Sequence[torch.Tensor]) -> None:
        """Fix each layer's eval shuffle (one permutation of the L grid tokens per layer)."""
        if len(permutations) != len(self.blocks):
            raise ValueError(f"set_shuffle_permutations got {len(permutations)} permutations for {len(self.blocks)} "
                             "layers: pass one per layer")
        for blk, perm in zip(self.blocks, permutations):
            if not hasattr(blk.mixer.scan, "set_permutation"):
                raise ValueError(f"layer scan {blk.mixer.scan.scan_name!r} has no shuffle; build with scan='shuffle'")
            blk.mixer.scan.set_permutation(perm)

    # -- timm API ------------------------------------------------------------------------------------
    @torch.jit.ignore
    def no_weight_decay(self):
        return {"pos_embed"}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict[str, Any]:
        return dict(stem=r"^pos_embed|^patch_embed|^pre_norm", blocks=[(r"^blocks\.(\d+)", None),
                                                                      (r"^norm|^fc_norm", (99999,))])

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        self.num_classes = num_classes
        if global_pool is not None:
            if global_pool not in ("avg", ""):
                raise ValueError(f"RSMamba global_pool must be 'avg' or '', got {global_pool!r}")
            self.global_pool = global_pool
        self.head = nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    def _embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x, grid = self.patch_embed(x)
        pos = self.pos_embed
        if grid != self.grid_size:
            pos = resample_abs_pos_embed(pos, list(grid), list(self.grid_size), num_prefix_tokens=0)
        return self.pos_drop(x + pos), grid

    def _run(self, blk: RSMambaLayer, x: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint(blk, x, self.pre_norm, grid, use_reentrant=False)
        return blk(x, self.pre_norm, grid)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x, grid = self._embed(x)
        for blk in self.blocks:
            x = self._run(blk, x, grid)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = self.fc_norm(x.mean(dim=1))
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self, x: torch.Tensor, indices: Optional[Union[int, List[int]]] = None,
                              norm: bool = False, stop_early: bool = False, output_fmt: str = "NCHW",
                              intermediates_only: bool = False):
        """Tokens after the chosen layers as NCHW maps (``norm``: through the final norm)."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError("output_fmt must be 'NCHW' or 'NLC'")
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        x, grid = self._embed(x)
        blocks = self.blocks[:max_index + 1] if stop_early else self.blocks
        intermediates = []
        for i, blk in enumerate(blocks):
            x = self._run(blk, x, grid)
            if i in take_indices:
                y = self.norm(x) if norm else x
                if output_fmt == "NCHW":
                    y = y.transpose(1, 2).reshape(y.shape[0], -1, *grid)
                intermediates.append(y)
        if intermediates_only:
            return intermediates
        return self.norm(x), intermediates

    def prune_intermediate_layers(self, indices: Union[int, List[int]] = 1, prune_norm: bool = False,
                                  prune_head: bool = True) -> List[int]:
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[:max_index + 1]
        self.feature_info = self.feature_info[:max_index + 1]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.fc_norm = nn.Identity()
            self.reset_classifier(0, "")
        return take_indices


# -- checkpoints -----------------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: Mapping, model: RSMamba) -> Dict[str, torch.Tensor]:
    """Official RSMamba checkpoints (mmpretrain ``{'state_dict': {'backbone.*', 'head.fc.*'}}``) or ours → our
    keys; the position embedding is resampled when the checkpoint's grid differs from the model's."""
    sd = unwrap_state_dict(state_dict)
    if is_official(sd):
        sd = convert_official(sd)
    pos = sd.get("pos_embed")
    if pos is not None and pos.shape != model.pos_embed.shape:
        side = int(round(pos.shape[1] ** 0.5))
        if side * side != pos.shape[1]:
            raise ValueError(f"cannot infer a square grid from a pos_embed of {pos.shape[1]} tokens; build the model "
                             "with the img_size the checkpoint was trained at")
        sd["pos_embed"] = resample_abs_pos_embed(pos, list(model.grid_size), [side, side], num_prefix_tokens=0)
    return checked_weights(sd, model)


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> str:
    sd = convert_official(state_dict) if is_official(state_dict) else state_dict
    dim = sd["pos_embed"].shape[-1] if "pos_embed" in sd else None
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    name = {(192, 24): "rsmamba_b", (256, 36): "rsmamba_l", (320, 48): "rsmamba_h"}.get((dim, depth),
                                                                                        "an unreleased RSMamba")
    return f"{name} (embed_dim {dim}, depth {depth})"


# -- registry --------------------------------------------------------------------------------------
def _cfg(**kwargs) -> Dict[str, Any]:
    return {
        "url": "", "num_classes": 21, "input_size": (3, 224, 224), "pool_size": None, "crop_pct": 1.0,
        "interpolation": "bicubic", "fixed_input_size": False,
        "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
        "first_conv": "patch_embed.proj", "classifier": "head", "license": "apache-2.0",
        "paper_ids": "arXiv:2403.19654", "paper_name": "RSMamba", "origin_url": "https://github.com/KyanChen/RSMamba",
        "notes": ("official UC Merced / AID / NWPU fine-tunes: https://huggingface.co/KyanChen/RSMamba "
                  "(convert with checkpoint_filter_fn or pretrained_cfg_overlay=dict(file=...))",), **kwargs,
    }


default_cfgs = generate_default_cfgs({
    "rsmamba_b": _cfg(),
    "rsmamba_l": _cfg(),
    "rsmamba_h": _cfg(),
    "test_rsmamba": _cfg(**{**TEST_CFG, "pool_size": None}),
})


def _create_rsmamba(variant: str, pretrained: bool = False, **kwargs) -> RSMamba:
    out_indices = kwargs.pop("out_indices", min(3, kwargs.get("depth", 3)))  # the last 3 layers' token maps
    return build_model_with_cfg(RSMamba, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn,
                                feature_cfg={"out_indices": out_indices, "feature_cls": "getter"}, **kwargs)


@register_model
def rsmamba_b(pretrained: bool = False, **kwargs) -> RSMamba:
    """RSMamba-B (official arch 'b'): embed 192, 24 layers, Mamba width 384, 16x16 patches at stride 8."""
    args = {"embed_dim": 192, "depth": 24, "d_inner": 384}
    return _create_rsmamba("rsmamba_b", pretrained, **dict(args, **kwargs))


@register_model
def rsmamba_l(pretrained: bool = False, **kwargs) -> RSMamba:
    """RSMamba-L (official arch 'l'): embed 256, 36 layers, Mamba width 512, 16x16 patches at stride 8."""
    args = {"embed_dim": 256, "depth": 36, "d_inner": 512}
    return _create_rsmamba("rsmamba_l", pretrained, **dict(args, **kwargs))


@register_model
def rsmamba_h(pretrained: bool = False, **kwargs) -> RSMamba:
    """RSMamba-H (official arch 'h'): embed 320, 48 layers, Mamba width 640, 16x16 patches at stride 8."""
    args = {"embed_dim": 320, "depth": 48, "d_inner": 640}
    return _create_rsmamba("rsmamba_h", pretrained, **dict(args, **kwargs))


SMALL_TEST_CONFIGS = {
    "rsmamba_b": {"embed_dim": 32, "depth": 2, "d_inner": 64, "img_size": 64},
    "rsmamba_l": {"embed_dim": 32, "depth": 3, "d_inner": 64, "img_size": 64},
    "rsmamba_h": {"embed_dim": 40, "depth": 2, "d_inner": 80, "img_size": 64},
}


@register_model
def test_rsmamba(pretrained: bool = False, **kwargs) -> RSMamba:
    """Tiny RSMamba for tests: embed 32, 2 layers, Mamba width 64, 64x64 input (an 8x8 grid), no weights."""
    args = {"img_size": 64, "embed_dim": 32, "depth": 2, "d_inner": 64, "drop_path_rate": 0.1}
    return _create_rsmamba("test_rsmamba", pretrained, **dict(args, **kwargs))
